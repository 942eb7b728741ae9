"""Run the edge agent's detector on every image of a folder: an annotated JPEG and a JSON file per image.

``OUT/<relative path>.jpg`` and ``.json`` (the image's suffix replaced; when two images of a folder share a
stem, the later ones keep their suffix: ``a.png.jpg``). Unreadable images are reported and skipped.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from training.datasets import CorruptFileError
from training.datasets.imaging import decode, list_images
from training.evaluation.errors import EmptyDataError
from training.evaluation.report import ModelInfo

if TYPE_CHECKING:
    from edge_agent.detect.onnx_runtime import OnnxDetector
    from factoryloop.schemas import Detection

logger = logging.getLogger(__name__)

# BGR colours, one per class id (cycled), readable on grey steel.
PALETTE = ((56, 56, 255), (255, 157, 151), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72))


@dataclass(frozen=True)
class PredictSummary:
    images: int  # predicted
    skipped: tuple[tuple[str, str], ...]  # (relative path, why: "<relative path>: ...") of unreadable images
    per_class: dict[str, int]  # detections per class
    ms_per_image: float  # the detector's time (letterbox, inference, decode), mean
    wall_s: float

    @property
    def detections(self) -> int:
        return sum(self.per_class.values())

    def line(self) -> str:
        classes = ", ".join(f"{k} {v}" for k, v in self.per_class.items()) or "none"
        return (
            f"{self.images} images, {len(self.skipped)} skipped (unreadable); {self.detections} detections "
            f"({classes}); {self.ms_per_image:.1f} ms per image; {self.wall_s:.1f} s in all"
        )


def find_images(src: Path, exclude: Path | None = None) -> list[Path]:
    """Images under ``src`` (recursively, sorted), none under ``exclude`` (the output folder)."""
    found = list_images(Path(src))
    if exclude is not None:
        ex = Path(exclude).resolve()
        found = [p for p in found if not p.resolve().is_relative_to(ex)]
    return found


def output_stems(src: Path, images: Sequence[Path]) -> dict[Path, Path]:
    """Image -> its outputs' path relative to OUT, without suffix (see the module doc)."""
    used: set[Path] = set()
    out = {}
    for image in images:
        rel = image.relative_to(src)
        stem = rel.with_suffix("")
        if stem in used:
            stem = rel
        used.add(stem)
        out[image] = stem
    return out


def annotate(image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """A copy of ``image`` with each detection's box, class and confidence drawn."""
    canvas = image.copy()
    scale = max(canvas.shape[:2]) / 640
    thick, font = max(1, round(2 * scale)), max(0.4, 0.5 * scale)
    for d in detections:
        color = PALETTE[d.class_id % len(PALETTE)]
        x1, y1, x2, y2 = (round(v) for v in (d.box.x1, d.box.y1, d.box.x2, d.box.y2))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thick)
        text = f"{d.class_name} {d.confidence:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
        top = y1 - th - base - 2 if y1 - th - base - 2 >= 0 else y1
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 2, top + th + base + 2), color, -1)
        cv2.putText(canvas, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), 1)
    return canvas


def prediction_doc(
    rel: str, image: np.ndarray, model: ModelInfo, detections: Sequence[Detection], conf: float, ms: float
) -> dict[str, Any]:
    return {
        "image": rel,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "model": {
            "name": model.name,
            "version": model.version,
            "sha256": model.sha256,
            "source": model.source,
        },
        "conf": conf,
        "inference_ms": round(ms, 3),
        "detections": [
            {
                "class_id": d.class_id,
                "class_name": d.class_name,
                "confidence": round(d.confidence, 5),
                "box": {k: round(getattr(d.box, k), 2) for k in ("x1", "y1", "x2", "y2")},
            }
            for d in detections
        ],
    }


def _read(path: Path, rel: str) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"{rel}: cannot read: {exc}") from exc
    return decode(data, rel)


def predict_folder(
    detector: OnnxDetector,
    model: ModelInfo,
    src: Path,
    out: Path,
    *,
    progress: Callable[[int], None] | None = None,
    images: Sequence[Path] | None = None,
) -> PredictSummary:
    """Detect on every image of ``src`` (``images``: the list, default :func:`find_images`); write the
    results to ``out``."""
    src, out = Path(src), Path(out)
    todo = list(images) if images is not None else find_images(src, exclude=out)
    if not todo:
        raise EmptyDataError(
            f"no image in {src} (looked for .jpg, .jpeg, .png, .bmp, .tif, .tiff recursively)"
        )
    start = time.perf_counter()
    detector.warmup()
    skipped: list[tuple[str, str]] = []
    per_class: Counter[str] = Counter()
    times: list[float] = []
    for image_path, stem in output_stems(src, todo).items():
        rel = image_path.relative_to(src).as_posix()
        try:
            image = _read(image_path, rel)
        except CorruptFileError as exc:
            logger.debug("skipped %s", exc)
            skipped.append((rel, str(exc)))
        else:
            t0 = time.perf_counter()
            detections = detector.detect(image)
            times.append((time.perf_counter() - t0) * 1000)
            per_class.update(d.class_name for d in detections)
            target = out / stem
            target.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(target.with_name(target.name + ".jpg")), annotate(image, detections))
            doc = prediction_doc(rel, image, model, detections, detector.options.conf, times[-1])
            target.with_name(target.name + ".json").write_text(json.dumps(doc, indent=1))
        if progress is not None:
            progress(1)
    return PredictSummary(
        len(times),
        tuple(skipped),
        dict(sorted(per_class.items())),
        float(np.mean(times)) if times else 0.0,
        time.perf_counter() - start,
    )
