"""Per-class recall of the decisions agents published, measured against the simulated line's truth.

A truth defect counts as found when the outcome of its frame has a detection of the same class whose box
overlaps it (IoU >= ``min_iou``). Only outcomes traceable to a simulator frame (``source_frame_index``) count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factoryloop.schemas import Outcome
from factoryloop.sim import Oracle


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class ClassRecall:
    found: int = 0
    total: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.total if self.total else None


@dataclass
class RecallScorer:
    oracle: Oracle
    min_iou: float = 0.1
    per_class: dict[str, ClassRecall] = field(default_factory=dict)
    false_alarms: int = 0
    scored: int = 0

    def add(self, outcome: Outcome) -> None:
        if outcome.shadow or outcome.source_frame_index is None:
            return
        self.scored += 1
        truth = self.oracle.truth(outcome.source_frame_index)
        dets = [(d.class_name, (d.box.x1, d.box.y1, d.box.x2, d.box.y2)) for d in outcome.detections]
        if truth.defect_free and dets:
            self.false_alarms += 1
        for box in truth.boxes:
            tb = (float(box.x1), float(box.y1), float(box.x2), float(box.y2))
            stat = self.per_class.setdefault(box.class_name, ClassRecall())
            stat.total += 1
            if any(name == box.class_name and iou(tb, db) >= self.min_iou for name, db in dets):
                stat.found += 1

    def recall(self, class_name: str) -> float | None:
        stat = self.per_class.get(class_name)
        return stat.recall if stat else None

    def summary(self) -> dict[str, float | None]:
        return {name: stat.recall for name, stat in sorted(self.per_class.items())}
