"""Export a trained .pt to the ONNX format the edge agent runs; prove the export gives the same detections.

Format: opset 17, fixed input (1, 3, imgsz, imgsz), simplified, no NMS in the graph, output (1, 4 + nc, N)
(see :mod:`training.yolo.onnx_ref` for the exact pre/post-processing contract).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factoryloop.schemas.deployments import PRODUCT_TAG
from training.errors import ExportMismatchError, ModelBuildError
from training.yolo.offline import yolo_class
from training.yolo.onnx_ref import OnnxDetector, RefDetection, letterbox

logger = logging.getLogger(__name__)

OPSET = 17


@dataclass(frozen=True)
class ExportedModel:
    path: Path
    sha256: str
    class_names: tuple[str, ...]
    imgsz: int


@dataclass(frozen=True)
class ParityReport:
    images: int
    max_raw_diff: float  # largest |torch - onnx| over the raw output tensors
    pt_detections: int
    onnx_detections: int
    matched: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def class_names_of(yolo: Any) -> tuple[str, ...]:
    names = {int(k): str(v) for k, v in yolo.names.items()}
    return tuple(names[i] for i in range(len(names)))


def _add_metadata(path: Path, extra: dict[str, str]) -> None:
    """Set ONNX metadata entries (beside Ultralytics' ``names``, ``imgsz``, ...) in place."""
    import onnx

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    props.update(extra)
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))


def export_onnx(pt: Path, imgsz: int, out_path: Path, *, product: str | None = None) -> ExportedModel:
    """Export ``pt`` to ``out_path`` (ONNX, fixed ``imgsz``). The file is written atomically.

    ``product`` is written to the metadata (key ``product``): an agent of another product refuses the file.
    """
    pt, out_path = Path(pt), Path(out_path)
    if not pt.is_file():
        raise ModelBuildError(f"cannot export {pt}: no such file")
    yolo = yolo_class()(str(pt))
    try:
        produced = yolo.export(
            format="onnx",
            imgsz=imgsz,
            opset=OPSET,
            simplify=True,
            nms=False,
            dynamic=False,
            half=False,
            batch=1,
            device="cpu",
            verbose=False,
        )
    except Exception as exc:  # Ultralytics raises many types
        raise ModelBuildError(f"ONNX export of {pt} failed: {exc}") from exc
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    shutil.copyfile(produced, tmp)
    if product is not None:
        _add_metadata(tmp, {PRODUCT_TAG: product})
    tmp.replace(out_path)
    exported = ExportedModel(out_path, sha256_file(out_path), class_names_of(yolo), imgsz)
    logger.info("exported %s -> %s (sha256 %s)", pt, out_path, exported.sha256[:12])
    return exported


def _torch_raw(model: Any, tensor: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        out = model(torch.from_numpy(tensor))
    out = out[0] if isinstance(out, list | tuple) else out
    return np.asarray(out.float().cpu().numpy())


def _pt_detections(yolo: Any, image: np.ndarray, imgsz: int, conf: float, iou: float) -> list[RefDetection]:
    result = yolo.predict(image, imgsz=imgsz, conf=conf, iou=iou, rect=False, device="cpu", verbose=False)[0]
    boxes = result.boxes
    return [
        RefDetection(int(c), float(s), *(float(v) for v in xyxy))
        for c, s, xyxy in zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist(), strict=True)
    ]


def _visible(d: RefDetection) -> bool:
    return d.x2 > d.x1 and d.y2 > d.y1


def _iou(a: RefDetection, b: RefDetection) -> float:
    iw = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    ih = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = iw * ih
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def _unmatched(
    xs: list[RefDetection], ys: list[RefDetection], iou: float, conf_tol: float
) -> list[RefDetection]:
    free = list(ys)
    missing = []
    for d in xs:
        best = max(free, key=lambda o: _iou(d, o) if o.class_id == d.class_id else -1.0, default=None)
        if (
            best is not None
            and best.class_id == d.class_id
            and _iou(d, best) >= iou
            and abs(best.confidence - d.confidence) <= conf_tol
        ):
            free.remove(best)
        else:
            missing.append(d)
    return missing


def verify_onnx_parity(
    pt: Path,
    onnx_path: Path,
    images: Sequence[np.ndarray],
    imgsz: int,
    *,
    conf: float = 0.25,
    iou: float = 0.7,
    raw_tol: float = 1e-2,
    box_iou: float = 0.95,
    conf_tol: float = 0.01,
) -> ParityReport:
    """Check the ONNX file against the .pt on BGR ``images``; :class:`ExportMismatchError` on a difference.

    Compared: the raw output tensors on the same letterboxed input, and the final detections of Ultralytics'
    own predictor (.pt) against :class:`OnnxDetector` (the reference pipeline). A detection whose confidence
    is within ``conf_tol`` of ``conf`` may be present on one side only; boxes that collapse to nothing when
    clipped to the frame are left out on both sides (the agent never reports them).
    """
    yolo = yolo_class()(str(pt))
    net = yolo.model.float().eval()
    detector = OnnxDetector(Path(onnx_path), imgsz)
    max_diff, n_pt, n_onnx, matched = 0.0, 0, 0, 0
    for k, image in enumerate(images):
        tensor, _ = letterbox(image, imgsz)
        diff = float(np.abs(_torch_raw(net, tensor) - detector.raw(tensor)).max())
        max_diff = max(max_diff, diff)
        if diff > raw_tol:
            raise ExportMismatchError(f"image {k}: raw outputs differ by {diff:.4g} (> {raw_tol})")
        # A box predicted wholly in the letterbox padding collapses to zero height or width once clipped to
        # the frame: the edge agent drops it, and the two NMS implementations may keep different ones of them.
        ours = [d for d in detector(image, conf=conf, iou=iou) if _visible(d)]
        theirs = [d for d in _pt_detections(yolo, image, imgsz, conf, iou) if _visible(d)]
        n_pt, n_onnx = n_pt + len(theirs), n_onnx + len(ours)
        for side, dets in (
            ("onnx", _unmatched(theirs, ours, box_iou, conf_tol)),
            ("pt", _unmatched(ours, theirs, box_iou, conf_tol)),
        ):
            real = [d for d in dets if d.confidence > conf + conf_tol]
            if real:
                raise ExportMismatchError(
                    f"image {k}: {len(real)} detection(s) missing from {side}: {real[:3]}"
                )
        matched += len(theirs) - len(_unmatched(theirs, ours, box_iou, conf_tol))
    return ParityReport(len(images), max_diff, n_pt, n_onnx, matched)
