"""LabelMe importer: one JSON per image anywhere under the folder (``shapes``, ``imagePath``, size).

``imagePath`` is relative to the JSON (else the image with the JSON's stem next to it, else the embedded
``imageData``); ``imageWidth``/``imageHeight`` must match the image. Shapes: ``rectangle`` (2 corners),
``polygon`` (at least 3 points) and ``circle`` (centre, point on the circle) become boxes; other shape types
are refused. Class names: ``classes.txt``/``labels.txt`` in the folder (order given; LabelMe's
``__ignore__``/``_background_`` lines skipped), else the sorted labels. Split: the nearest folder named
train/val/valid/test. Images without a JSON are not imported (LabelMe writes no file for unlabelled images).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from pathlib import Path
from typing import Any

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import IMAGE_SUFFIXES, decode, is_jpeg, read_image, to_jpeg
from training.datasets.importers.base import (
    Progress,
    extent_box,
    listing,
    ordered_classes,
    split_from_dirs,
    tick,
)
from training.datasets.types import Box, ImportPlan, PlannedImage

_CLASS_FILES = ("classes.txt", "labels.txt")
_SKIP_LABELS = {"__ignore__", "_background_"}


def read_class_file(root: Path) -> tuple[str, ...] | None:
    path = next((root / n for n in _CLASS_FILES if (root / n).is_file()), None)
    if path is None:
        return None
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path}: cannot read class names: {exc}") from exc
    names = tuple(ln for ln in lines if ln and ln not in _SKIP_LABELS)
    if not names:
        raise CorruptFileError(f"{path}: no class names")
    return names


def _load(js: Path) -> dict[str, Any]:
    try:
        doc = json.loads(js.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptFileError(f"{js}: invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise CorruptFileError(f"{js}: not a LabelMe file (no 'shapes' list)")
    return doc


def _image(js: Path, doc: dict[str, Any]) -> tuple[Path, bytes, int, int]:
    """(path, JPEG bytes, width, height) of the image a LabelMe file annotates."""
    rel = str(doc.get("imagePath") or "").replace("\\", "/")
    candidates = [js.parent / rel] if rel else []
    candidates += [js.with_suffix(s) for s in IMAGE_SUFFIXES] + [
        js.with_suffix(s.upper()) for s in IMAGE_SUFFIXES
    ]
    path = next((p for p in candidates if p.is_file()), None)
    if path is not None:
        return (path, *read_image(path))
    if doc.get("imageData"):
        try:
            raw = base64.b64decode(str(doc["imageData"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CorruptFileError(f"{js}: imageData is not base64: {exc}") from exc
        img = decode(raw, f"{js} imageData")
        return js, raw if is_jpeg(raw) else to_jpeg(img), int(img.shape[1]), int(img.shape[0])
    raise CorruptFileError(f"{js}: image {rel!r} not found and no imageData")


def _coords(shape: dict[str, Any], where: str) -> list[tuple[float, float]]:
    try:
        points = [(float(p[0]), float(p[1])) for p in shape.get("points") or []]
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise CorruptFileError(f"{where}: points must be x, y pairs: {exc!r}") from exc
    if not all(math.isfinite(v) for p in points for v in p):
        raise CorruptFileError(f"{where}: points must be finite numbers")
    return points


def shape_box(shape: dict[str, Any], width: int, height: int, where: str) -> Box:
    label = str(shape.get("label") or "").strip()
    kind = shape.get("shape_type") or "polygon"
    points = _coords(shape, where)
    if kind == "rectangle":
        if len(points) != 2:
            raise CorruptFileError(f"{where}: rectangle needs 2 points, got {len(points)}")
    elif kind == "polygon":
        if len(points) < 3:
            raise CorruptFileError(f"{where}: polygon needs at least 3 points, got {len(points)}")
    elif kind == "circle":
        if len(points) != 2:
            raise CorruptFileError(
                f"{where}: circle needs 2 points (centre, point on the circle), got {len(points)}"
            )
        (cx, cy), (px, py) = points
        r = math.hypot(px - cx, py - cy)
        points = [(cx - r, cy - r), (cx + r, cy + r)]
    else:
        raise CorruptFileError(
            f"{where}: shape_type {kind!r} is not supported, only rectangle, polygon, circle"
        )
    return extent_box(label, points, width, height, where)


def import_labelme(root: Path, *, progress: Progress | None = None) -> ImportPlan:
    root = Path(root)
    jsons = sorted(root.rglob("*.json")) if root.is_dir() else []
    if not jsons:
        raise DatasetError(f"{root}: no LabelMe .json files found")
    docs = [(js, _load(js)) for js in jsons]
    labels: dict[str, str] = {}
    for js, doc in docs:
        for n, shape in enumerate(doc["shapes"]):
            label = str(shape.get("label") or "").strip() if isinstance(shape, dict) else ""
            if not label:
                raise CorruptFileError(f"{js}: shape #{n} has no label")
            labels.setdefault(label, f"{js}: shape #{n}")
    names = ordered_classes(set(labels), read_class_file(root))
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise CorruptFileError(
            f"{labels[unknown[0]]}: label {unknown[0]!r} is not in the class list {listing(names)}"
        )
    planned: list[PlannedImage] = []
    for js, doc in docs:
        path, data, w, h = _image(js, doc)
        want = (doc.get("imageWidth"), doc.get("imageHeight"))
        if want != (None, None) and want != (w, h):
            raise CorruptFileError(
                f"{js}: imageWidth x imageHeight is {want[0]}x{want[1]}, the image is {w}x{h}"
            )
        boxes = tuple(
            shape_box(shape, w, h, f"{js}: shape #{n} label {shape['label']!r}")
            for n, shape in enumerate(doc["shapes"])
        )
        planned.append(PlannedImage(path, data, w, h, boxes, str(js), split_from_dirs(js, root)))
        tick(progress)
    return ImportPlan("labelme", root, names, tuple(planned))
