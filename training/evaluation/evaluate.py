"""Evaluate a model file on prepared data: Ultralytics' validator for the numbers, the edge agent's detector
for the confusion matrix (what the line PC would report at its default confidence)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from training.evaluation.confusion import MATRIX_CONF, MATRIX_IOU, ConfusionMatrix, confusion_matrix
from training.evaluation.data import EvalData
from training.evaluation.errors import EvaluationError
from training.evaluation.model_source import ModelFile
from training.evaluation.report import Evaluation, class_rows
from training.evaluation.validate import validate
from training.evaluation.yolo_folder import Label

logger = logging.getLogger(__name__)


def truth_pixels(labels: Sequence[Label], width: int, height: int) -> np.ndarray:
    """YOLO labels (class, cx, cy, w, h normalised) as (n, 5) class, x1, y1, x2, y2 in pixels."""
    rows = [
        (c, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
        for c, cx, cy, w, h in labels
    ]
    return np.asarray(rows, dtype=float).reshape(-1, 5)


def _pairs(
    model: ModelFile,
    labels: Mapping[Path, Sequence[Label]],
    conf: float,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    detector = model.detector(conf=conf)
    for path, boxes in labels.items():
        image = cv2.imread(str(path))
        if image is None:
            raise EvaluationError(f"cannot read {path} (written by this evaluation): disk full?")
        height, width = image.shape[:2]
        preds = [
            (d.class_id, d.confidence, d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in detector.detect(image)
        ]
        yield truth_pixels(boxes, width, height), np.asarray(preds, dtype=float).reshape(-1, 6)
        if progress is not None:
            progress(1)


def edge_confusion(
    model: ModelFile,
    labels: Mapping[Path, Sequence[Label]],
    *,
    conf: float = MATRIX_CONF,
    iou: float = MATRIX_IOU,
    progress: Callable[[int], None] | None = None,
) -> ConfusionMatrix:
    """The confusion matrix of the edge agent's detections at ``conf`` against the true boxes."""
    return confusion_matrix(model.info.class_names, _pairs(model, labels, conf, progress), conf=conf, iou=iou)


def evaluate_model(
    model: ModelFile,
    data: EvalData,
    *,
    conf: float = 0.001,
    iou: float = 0.7,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> Evaluation:
    """Evaluate ``model`` on ``data``. ``progress(stage, total)`` returns the callable that counts one step
    (stages: ``validating``, then ``confusion matrix``; both count images)."""
    start = time.perf_counter()
    n = data.match.images
    overall, per_class = validate(
        model.path,
        data.match.data_yaml,
        imgsz=model.info.imgsz,
        conf=conf,
        iou=iou,
        progress=progress("validating", n) if progress else None,
    )
    matrix = edge_confusion(
        model, data.match.labels, progress=progress("confusion matrix", n) if progress else None
    )
    rows = class_rows(model.info.class_names, data.match.labels, per_class)
    wall = time.perf_counter() - start
    logger.info("evaluated %s on %s in %.1f s: %s", model.info.name, data.info.ref, wall, overall)
    return Evaluation(model.info, data.info, overall, rows, matrix, conf, iou, wall)
