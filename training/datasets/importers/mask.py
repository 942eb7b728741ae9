"""Mask importer: ``<name>.jpg`` + ``<name>.png`` mask; threshold > 127, connected components = boxes.

The class of an image is its folder's name (``MT_Crack/Imgs/x.jpg`` -> ``crack``: the ``Imgs``/``images``
level is skipped, an ``MT_`` prefix removed). Folders ``free``/``ok``/``good`` hold defect-free images.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import decode, read_image
from training.datasets.importers.base import Progress, check_known, ordered_classes, tick
from training.datasets.types import Box, ImportPlan, PlannedImage

_SKIP_DIRS = {"imgs", "images", "img"}
_FREE = {"free", "ok", "good", "normal"}
DEFAULT_MIN_AREA = 8


def class_for(image: Path, root: Path) -> str:
    parent = image.parent
    while parent.name.lower() in _SKIP_DIRS and parent != root:
        parent = parent.parent
    name = parent.name
    return (name[3:] if name.upper().startswith("MT_") else name).lower()


def mask_boxes(mask: np.ndarray, class_name: str, min_area: int = DEFAULT_MIN_AREA) -> tuple[Box, ...]:
    """Boxes of the connected components of ``mask > 127`` with at least ``min_area`` pixels."""
    binary = (mask > 127).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    boxes = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= min_area:
            boxes.append(Box(class_name, x, y, x + w, y + h))
    return tuple(sorted(boxes, key=lambda b: (b.y1, b.x1)))


def _read_mask(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"{path}: cannot read mask: {exc}") from exc
    img = decode(data, str(path))
    return np.asarray(img.max(axis=2))


def import_masks(
    root: Path,
    *,
    progress: Progress | None = None,
    min_area: int = DEFAULT_MIN_AREA,
    class_names: tuple[str, ...] | None = None,
) -> ImportPlan:
    root = Path(root)
    images = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".bmp") and p.is_file()
    )
    if not images:
        raise DatasetError(f"{root}: no .jpg images found")
    pairs = []
    for img in images:
        mask = img.with_suffix(".png")
        if not mask.is_file():
            raise CorruptFileError(f"{img}: no mask {mask.name} next to it")
        pairs.append((img, mask, class_for(img, root)))
    found = {c for _, _, c in pairs if c not in _FREE}
    names = ordered_classes(found, class_names)
    check_known(found, names, root)
    planned: list[PlannedImage] = []
    for img, mask_path, cls in pairs:
        data, w, h = read_image(img)
        pixels = _read_mask(mask_path)
        if pixels.shape != (h, w):
            raise CorruptFileError(
                f"{mask_path}: mask is {pixels.shape[1]}x{pixels.shape[0]}, image is {w}x{h}"
            )
        boxes = () if cls in _FREE else mask_boxes(pixels, cls, min_area)
        planned.append(PlannedImage(img, data, w, h, boxes, str(mask_path)))
        tick(progress)
    return ImportPlan("mask", root, names, tuple(planned))
