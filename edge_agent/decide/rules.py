"""Per-class rules turn detections into a verdict.

A detection counts when its class rule accepts it (inside the ROI, box at least ``min_box_area``):
FAIL if a fail-class detection reaches its ``confidence``; else UNCERTAIN if one lies in its uncertain
band ``[uncertain, confidence)``; else PASS. Cosmetic classes (``fail: false``) are recorded, never acted on.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config import ClassRule, RulesConfig
from factoryloop.schemas import Detection, Verdict


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    detections: tuple[Detection, ...]  # those the rules kept (reported in the outcome)
    reasons: tuple[str, ...]  # class names that made the verdict


def _in_roi(det: Detection, rule: ClassRule, width: int, height: int) -> bool:
    if rule.roi is None:
        return True
    x1, y1, x2, y2 = rule.roi
    cx = (det.box.x1 + det.box.x2) / 2 / width
    cy = (det.box.y1 + det.box.y2) / 2 / height
    return x1 <= cx <= x2 and y1 <= cy <= y2


def _floor(rule: ClassRule) -> float:
    return rule.confidence if rule.uncertain is None else rule.uncertain


class RuleSet:
    def __init__(self, config: RulesConfig) -> None:
        self.config = config
        self._thresholds: dict[tuple[str, ...], dict[str, float]] = {}

    def thresholds(self, class_names: tuple[str, ...]) -> dict[str, float]:
        """The confidence threshold per class (computed once per model's class names; do not mutate)."""
        cached = self._thresholds.get(class_names)
        if cached is None:
            cached = {name: self.config.for_class(name).confidence for name in class_names}
            self._thresholds[class_names] = cached
        return cached

    def decide(self, detections: tuple[Detection, ...], width: int, height: int) -> Decision:
        kept: list[Detection] = []
        fail: list[str] = []
        uncertain: list[str] = []
        for det in detections:
            rule = self.config.for_class(det.class_name)
            if det.confidence < _floor(rule) or det.box.area < rule.min_box_area:
                continue
            if not _in_roi(det, rule, width, height):
                continue
            kept.append(det)
            if not rule.fail:
                continue
            if det.confidence >= rule.confidence:
                fail.append(det.class_name)
            else:
                uncertain.append(det.class_name)
        if fail:
            return Decision(Verdict.FAIL, tuple(kept), tuple(dict.fromkeys(fail)))
        if uncertain:
            return Decision(Verdict.UNCERTAIN, tuple(kept), tuple(dict.fromkeys(uncertain)))
        return Decision(Verdict.PASS, tuple(kept), ())
