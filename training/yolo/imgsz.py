"""Choose the training input size from the data: small enough to train fast, large enough to see the defects.

The rule (docs/training.md, "A first model from your data"): Ultralytics resizes an image so that its long
side is ``imgsz`` and pads the rest (letterbox), so a box of short side ``b`` on an image of long side ``L``
is ``b * imgsz / L`` pixels high after the resize. :func:`choose_imgsz` returns the smallest candidate at
which the ``quantile`` (default the 10th percentile) of those short sides is at least ``min_px``: at
most one defect in ten ends smaller than a few cells of the stride-8 grid. The size never exceeds the
images' largest long side rounded up to a multiple of 32 (upscaling adds no detail) nor ``max_imgsz``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from training.errors import ModelBuildError
from training.yolo.split import split_images

#: (box width, box height, image width, image height), in pixels.
BoxSize = tuple[float, float, float, float]

CANDIDATES = (160, 192, 224, 256, 320, 416, 512, 640)
MIN_PX = 10.0
QUANTILE = 0.1
MAX_IMGSZ = 640
STRIDE = 32


def _round_up(value: float, multiple: int = STRIDE) -> int:
    return int(math.ceil(value / multiple) * multiple)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile by the nearest lower rank: ``quantile([1, 2, 3, 4], 0.1) == 1``."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.floor(q * (len(ordered) - 1))))]


def short_sides_at(box_sizes: Iterable[BoxSize], imgsz: int) -> list[float]:
    """Each box's short side in pixels after the letterbox resize of its image to ``imgsz``."""
    return [min(bw, bh) * imgsz / max(iw, ih) for bw, bh, iw, ih in box_sizes]


def size_limit(image_sizes: Iterable[tuple[int, int]], max_imgsz: int = MAX_IMGSZ) -> int:
    """The largest useful size: the images' largest long side rounded up to 32, at most ``max_imgsz``."""
    longest = max((max(w, h) for w, h in image_sizes), default=0)
    cap = (max_imgsz // STRIDE) * STRIDE
    return max(STRIDE, min(cap, _round_up(longest))) if longest else max(STRIDE, cap)


def choose_imgsz(
    image_sizes: Iterable[tuple[int, int]],
    box_sizes: Iterable[BoxSize],
    *,
    min_px: float = MIN_PX,
    quantile_q: float = QUANTILE,
    candidates: Sequence[int] = CANDIDATES,
    max_imgsz: int = MAX_IMGSZ,
) -> int:
    """The smallest candidate at which the ``quantile_q`` box short side is >= ``min_px`` (module doc).

    Sizes above :func:`size_limit` are left out; when the limit is under a candidate that would be needed it
    is itself the answer (a multiple of 32). No boxes: the smallest allowed size. No candidate reaches
    ``min_px``: the largest allowed one.
    """
    if not candidates or any(c <= 0 or c % STRIDE for c in candidates):
        raise ValueError(f"candidates must be positive multiples of {STRIDE}: {tuple(candidates)}")
    limit = size_limit(image_sizes, max_imgsz)
    allowed = sorted({c for c in candidates if c <= limit})
    if not allowed or max(candidates) > limit > allowed[-1]:
        allowed.append(limit)  # the images' own size is the last step below the next candidate
    boxes = list(box_sizes)
    if not boxes:
        return allowed[0]
    for size in allowed:
        if quantile(short_sides_at(boxes, size), quantile_q) >= min_px:
            return size
    return allowed[-1]


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image  # a dependency of ultralytics; reads the header only

    with Image.open(path) as im:
        return im.size


def dataset_sizes(data_yaml: Path, split: str = "train") -> tuple[list[tuple[int, int]], list[BoxSize]]:
    """Image sizes and box sizes of a YOLO dataset split (labels beside ``images/`` in ``labels/``)."""
    image_sizes: list[tuple[int, int]] = []
    box_sizes: list[BoxSize] = []
    for img, label in split_images(Path(data_yaml), split):
        w, h = _image_size(img)
        image_sizes.append((w, h))
        if label is None:
            continue
        for line in label.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 5:
                box_sizes.append((float(fields[3]) * w, float(fields[4]) * h, float(w), float(h)))
    return image_sizes, box_sizes


def imgsz_for_dataset(
    data_yaml: Path,
    *,
    min_px: float = MIN_PX,
    candidates: Sequence[int] = CANDIDATES,
    max_imgsz: int = MAX_IMGSZ,
) -> int:
    """:func:`choose_imgsz` on the train split of a YOLO ``data_yaml``."""
    images, boxes = dataset_sizes(data_yaml)
    if not images:
        raise ModelBuildError(f"{data_yaml}: the train split has no images")
    return choose_imgsz(images, boxes, min_px=min_px, candidates=candidates, max_imgsz=max_imgsz)
