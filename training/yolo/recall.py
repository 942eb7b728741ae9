"""Detection recall/precision at a fixed confidence, as an edge agent sees it (conf 0.25, IoU 0.5 matching).

Ultralytics' per-class recall is taken at the confidence that maximises the mean F1, not at the threshold the
edge agent runs; the closed-loop demo reports "crack recall at conf 0.25" with :func:`detection_report`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from training.yolo.offline import yolo_class
from training.yolo.onnx_ref import OnnxDetector, RefDetection

Detector = Callable[[np.ndarray], list[RefDetection]]


class TruthBox(Protocol):
    """A ground-truth box (``factoryloop.sim.SimBox`` or ``training.datasets.Box``-like with a class id)."""

    @property
    def class_id(self) -> int: ...
    @property
    def x1(self) -> int | float: ...
    @property
    def y1(self) -> int | float: ...
    @property
    def x2(self) -> int | float: ...
    @property
    def y2(self) -> int | float: ...


@dataclass(frozen=True)
class ClassCounts:
    truths: int
    hits: int  # truths matched by a detection of the same class
    detections: int
    true_detections: int

    @property
    def recall(self) -> float:
        return self.hits / self.truths if self.truths else 0.0

    @property
    def precision(self) -> float:
        return self.true_detections / self.detections if self.detections else 0.0


@dataclass(frozen=True)
class DetectionReport:
    conf: float
    iou: float
    images: int
    per_class: dict[str, ClassCounts]  # every class of the class map

    def recall(self, name: str) -> float:
        return self.per_class[name].recall

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            n: {"truths": c.truths, "recall": c.recall, "precision": c.precision}
            for n, c in self.per_class.items()
        }


def box_iou(a: TruthBox | RefDetection, b: TruthBox | RefDetection) -> float:
    iw = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    ih = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = iw * ih
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return float(inter / union) if union > 0 else 0.0


def _match(dets: list[RefDetection], truths: Sequence[TruthBox], iou: float) -> tuple[set[int], set[int]]:
    """Greedy matching by confidence; returns (matched detection indices, matched truth indices)."""
    free = set(range(len(truths)))
    hit_dets: set[int] = set()
    for k in sorted(range(len(dets)), key=lambda i: -dets[i].confidence):
        d = dets[k]
        scored = [(box_iou(d, truths[t]), t) for t in free if truths[t].class_id == d.class_id]
        best = max(scored, default=(0.0, -1))
        if best[0] >= iou:
            free.discard(best[1])
            hit_dets.add(k)
    return hit_dets, set(range(len(truths))) - free


def detection_report(
    detect: Detector,
    samples: Iterable[tuple[np.ndarray, Sequence[TruthBox]]],
    class_names: Sequence[str],
    *,
    conf: float = 0.25,
    iou: float = 0.5,
) -> DetectionReport:
    """Run ``detect`` (already thresholded at ``conf``) on (BGR image, truth boxes) pairs; count per class."""
    nc = len(class_names)
    truths, hits, dets, good = (np.zeros(nc, int) for _ in range(4))
    images = 0
    for image, boxes in samples:
        images += 1
        found = [d for d in detect(image) if d.confidence >= conf and 0 <= d.class_id < nc]
        hit_dets, hit_truths = _match(found, boxes, iou)
        for b in boxes:
            truths[b.class_id] += 1
        for t in hit_truths:
            hits[boxes[t].class_id] += 1
        for k, d in enumerate(found):
            dets[d.class_id] += 1
            good[d.class_id] += k in hit_dets
    per_class = {
        name: ClassCounts(int(truths[i]), int(hits[i]), int(dets[i]), int(good[i]))
        for i, name in enumerate(class_names)
    }
    return DetectionReport(conf, iou, images, per_class)


def pt_detector(pt: Path, imgsz: int, *, conf: float = 0.25, iou: float = 0.7) -> Detector:
    """Ultralytics' predictor on a .pt (CPU, square letterbox like the ONNX contract)."""
    yolo = yolo_class()(str(pt))

    def detect(image: np.ndarray) -> list[RefDetection]:
        result = yolo.predict(image, imgsz=imgsz, conf=conf, iou=iou, rect=False, device="cpu", verbose=False)
        boxes = result[0].boxes
        return [
            RefDetection(int(c), float(s), *(float(v) for v in xyxy))
            for c, s, xyxy in zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist(), strict=True)
        ]

    return detect


def onnx_detector(path: Path, imgsz: int, *, conf: float = 0.25, iou: float = 0.7) -> Detector:
    """The reference ONNX pipeline (what the edge agent runs)."""
    detector = OnnxDetector(Path(path), imgsz)
    return lambda image: detector(image, conf=conf, iou=iou)
