"""Importer protocol and helpers. An importer validates a whole folder and returns an :class:`ImportPlan`.

Error messages name the file and the line/annotation/shape and avoid square brackets: the CLI prints them
through rich, which reads ``[...]`` as markup and swallows it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from training.datasets.errors import CorruptFileError
from training.datasets.types import Box, ImportPlan

Progress = Callable[[int], None]

#: Folder / subset / file-name words that declare a split, and the split they mean.
SPLIT_WORDS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


class Importer(Protocol):
    def __call__(self, root: Path, *, progress: Progress | None = None) -> ImportPlan: ...


def ordered_classes(found: set[str], given: tuple[str, ...] | None) -> tuple[str, ...]:
    """The class map: the classes the dataset declares (``given``), else the names found, sorted."""
    if given:
        return given
    return tuple(sorted(found))


#: Words that may stand beside a split word in a folder name (``Validation_Images``, ``train-labels``).
GENERIC_WORDS = frozenset(
    {
        "images",
        "image",
        "imgs",
        "img",
        "jpegimages",
        "annotations",
        "annotation",
        "labels",
        "label",
        "set",
        "data",
    }
)


def split_word(name: str) -> str | None:
    """``train``/``val``/``test`` for a split word (``Validation``, ``valid``, ...), or a name made of one
    split word and generic ones (``Validation_Images``, ``train-labels``, ``images_val``), else None."""
    words = [w for w in re.split(r"[\s_.\-]+", name.strip().lower()) if w]
    splits = [SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS]
    if len(splits) == 1 and all(w in SPLIT_WORDS or w in GENERIC_WORDS for w in words):
        return splits[0]
    return None


def split_from_dirs(path: Path, root: Path) -> str | None:
    """The split named by the nearest folder between ``root`` and ``path`` (``train/``, ``valid/``, ...)."""
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    for part in reversed(parts):
        split = split_word(part)
        if split is not None:
            return split
    return None


def listing(items: Iterable[object]) -> str:
    """``a, b, c``: a bracket-free list for messages."""
    return ", ".join(str(i) for i in items)


def check_known(found: set[str], names: tuple[str, ...], where: object) -> None:
    unknown = found - set(names)
    if unknown:
        raise CorruptFileError(
            f"{where}: classes {listing(sorted(unknown))} are not in the class map {listing(names)}"
        )


def polygon_points(coords: Sequence[float], where: str) -> list[tuple[float, float]]:
    """Pairs of a flat ``x1 y1 x2 y2 ...`` list; at least 3 points and an even number of coordinates."""
    if len(coords) % 2:
        raise CorruptFileError(f"{where}: polygon has an odd number of coordinates ({len(coords)})")
    if len(coords) < 6:
        raise CorruptFileError(f"{where}: polygon needs at least 3 points, got {len(coords) // 2}")
    return list(zip(coords[::2], coords[1::2], strict=True))


def extent_box(
    class_name: str, points: Sequence[tuple[float, float]], width: int, height: int, where: str
) -> Box:
    """The axis-aligned extent of ``points`` (pixels) clipped to the image; degenerate or outside -> error."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if not xs or not all(math.isfinite(v) for v in (*xs, *ys)):
        raise CorruptFileError(f"{where}: coordinates must be finite numbers")
    x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
    if not (x2 > x1 and y2 > y1):
        raise CorruptFileError(f"{where}: degenerate shape: zero width or height")
    box = Box(class_name, x1, y1, x2, y2).clipped(width, height)
    if box is None:
        raise CorruptFileError(f"{where}: shape lies outside the {width}x{height} image")
    return box


def tick(progress: Progress | None) -> None:
    if progress is not None:
        progress(1)
