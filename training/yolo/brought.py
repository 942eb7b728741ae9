"""Weights trained elsewhere (a GPU box, the user's own pipeline), taken in place of a training run: checked
against the product's class map and measured on the retrain's validation split, as a run's best weights are
(``factoryloop model register``). Exported, registered and gated afterwards like any retrain."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from training.errors import ModelBuildError
from training.yolo.base_model import BaseModelInfo, check_base_model
from training.yolo.evaluate import evaluate
from training.yolo.train import TrainResult

logger = logging.getLogger(__name__)


def check_brought(weights: Path, class_names: tuple[str, ...], imgsz: int | None = None) -> BaseModelInfo:
    """:class:`ModelBuildError` unless ``weights`` is a YOLO detection checkpoint of exactly ``class_names``
    in that order, whose input size is known (``imgsz``, else the size it was trained at)."""
    info = check_base_model(weights)
    if info.class_names != class_names:
        missing = [c for c in class_names if c not in info.class_names]
        extra = [c for c in info.class_names if c not in class_names]
        why = "; ".join(
            part
            for part in (
                f"it lacks {', '.join(missing)}" if missing else "",
                f"it has {', '.join(extra)} the product does not" if extra else "",
                "same classes in another order" if not missing and not extra else "",
            )
            if part
        )
        raise ModelBuildError(
            f"{weights} detects ({', '.join(info.class_names)}), the product's class map is "
            f"({', '.join(class_names)}): {why}. Train it on the product's classes in this order (export "
            "them with `factoryloop dataset export`), or start a retrain from it: `factoryloop retrain "
            "--base-model`"
        )
    if imgsz is None and info.imgsz is None:
        raise ModelBuildError(f"{weights} does not say the input size it was trained at: give --imgsz")
    return info


def brought_weights(
    info: BaseModelInfo, data_yaml: Path, work: Path, *, imgsz: int | None = None, device: str | None = None
) -> TrainResult:
    """Checked weights (:func:`check_brought`) as a :class:`TrainResult` with no epochs, measured on the
    ``val`` split of ``data_yaml``; served at ``imgsz`` (default: the size the checkpoint was trained at)."""
    size = imgsz or info.imgsz
    assert size is not None  # check_brought
    best = work / "brought" / "weights" / "best.pt"
    best.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(info.path, best)
    started = time.monotonic()
    measured = evaluate(best, data_yaml, imgsz=size, device=device)
    logger.info("weights %s brought at %s px: %s", info.path, size, measured.metrics)
    return TrainResult(
        best_pt=best,
        save_dir=best.parent.parent,
        class_names=info.class_names,
        metrics=measured.metrics,
        per_class=measured.per_class,
        wall_s=time.monotonic() - started,
        imgsz=size,
    )
