"""Check a user's own ``.pt`` before training from it (``--base-model``): a YOLO detection checkpoint or not.

Ultralytics loads such a file as the start of a run; when the dataset has other classes it builds the model
from the checkpoint's architecture with the dataset's ``nc`` and copies every weight whose shape still fits
(all but the class outputs of the head), so a COCO-pretrained ``yolov8n.pt`` starts a 6-class run.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import ModelBuildError
from training.yolo.offline import yolo_class

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseModelInfo:
    path: Path
    task: str
    class_names: tuple[str, ...]
    architecture: str  # the YAML the checkpoint was built from (``yolov8n.yaml``, ``fl-tiny.yaml``, ...)
    imgsz: int | None = None  # the input size it was trained at, when the checkpoint says


def check_base_model(pt: Path) -> BaseModelInfo:
    """Load ``pt`` offline; ModelBuildError unless it is an Ultralytics detection checkpoint."""
    pt = Path(pt)
    if not pt.is_file():
        raise ModelBuildError(f"base model {pt} does not exist")
    if not zipfile.is_zipfile(pt):  # torch.save writes a zip archive; anything else is not a checkpoint
        raise ModelBuildError(f"base model {pt} is not a PyTorch checkpoint (expected a YOLO .pt file)")
    try:
        yolo: Any = yolo_class()(str(pt))
        model = yolo.model
        task = str(yolo.task)
        raw = getattr(model, "names", None) or {}
        names = raw if isinstance(raw, dict) else dict(enumerate(raw))
        arch = model.yaml.get("yaml_file", "") if isinstance(getattr(model, "yaml", None), dict) else ""
        trained_at = (getattr(yolo, "ckpt", None) or {}).get("train_args", {}).get("imgsz")
    except Exception as exc:  # torch and Ultralytics raise many types for foreign files
        raise ModelBuildError(
            f"base model {pt} is not a YOLO checkpoint ({type(exc).__name__}: {exc}); give a .pt saved by "
            "Ultralytics (e.g. yolov8n.pt, or a factoryloop run's best.pt)"
        ) from exc
    if task != "detect":
        raise ModelBuildError(f"base model {pt} is a YOLO {task} model; a detection model is needed")
    size = trained_at if isinstance(trained_at, int) else None
    info = BaseModelInfo(pt, task, tuple(str(names[k]) for k in sorted(names)), str(arch), size)
    logger.info("base model %s: %s, %s classes", pt, info.architecture or "?", len(info.class_names))
    return info
