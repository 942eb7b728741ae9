"""Evaluate a .pt on a YOLO dataset split (the gate's golden set): overall and per-class numbers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import ModelBuildError
from training.yolo.offline import yolo_class
from training.yolo.train import ClassMetrics, resolve_device, summarize_box_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalResult:
    metrics: dict[str, float]  # precision, recall, mAP50, mAP50-95
    per_class: dict[str, ClassMetrics]  # classes present in the evaluated images

    def as_tags(self, prefix: str) -> dict[str, str]:
        tags = {f"{prefix}.{k}": f"{v:.4f}" for k, v in self.metrics.items()}
        tags.update({f"{prefix}.recall.{c}": f"{m.recall:.4f}" for c, m in self.per_class.items()})
        return tags


def evaluate(
    pt: Path, data_yaml: Path, *, imgsz: int, batch: int = 16, device: str | None = None, split: str = "val"
) -> EvalResult:
    yolo = yolo_class()(str(pt))
    try:
        metrics: Any = yolo.val(
            data=str(data_yaml),
            split=split,
            imgsz=imgsz,
            batch=batch,
            device=resolve_device(device),
            workers=0,
            plots=False,
            verbose=False,
            save_json=False,
            conf=0.001,
            iou=0.7,
        )
    except Exception as exc:  # Ultralytics raises many types
        raise ModelBuildError(f"evaluating {pt} on {data_yaml} failed: {exc}") from exc
    names = {int(k): str(v) for k, v in metrics.names.items()}
    overall, per_class = summarize_box_metrics(metrics.box, names)
    logger.info("evaluated %s on %s: %s", pt, data_yaml, overall)
    return EvalResult(overall, per_class)
