"""Frozen value types exchanged with the dataset store."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Provenance(StrEnum):
    """Where a label came from. Higher :data:`PRECEDENCE` wins for the same image."""

    SIMULATED = "simulated"
    HUMAN = "human"
    IMPORT = "import"
    PREDICTION = "prediction"
    PSEUDO = "pseudo"


#: Human review beats imported/simulated ground truth, which beats pseudo labels, which beat raw predictions.
PRECEDENCE: dict[Provenance, int] = {
    Provenance.HUMAN: 4,
    Provenance.IMPORT: 3,
    Provenance.SIMULATED: 3,
    Provenance.PSEUDO: 1,
    Provenance.PREDICTION: 0,
}


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: ``[x1, x2) x [y1, y2)``."""

    class_name: str
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"box coordinates must be finite: {values}")
        if not (self.x2 > self.x1 and self.y2 > self.y1):
            raise ValueError(f"box must have x2 > x1 and y2 > y1: {values}")
        if not self.class_name:
            raise ValueError("box class_name must not be empty")

    def clipped(self, width: int, height: int) -> Box | None:
        x1, y1 = max(0.0, self.x1), max(0.0, self.y1)
        x2, y2 = min(float(width), self.x2), min(float(height), self.y2)
        return Box(self.class_name, x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None

    def as_list(self) -> list[Any]:
        return [self.class_name, round(self.x1, 2), round(self.y1, 2), round(self.x2, 2), round(self.y2, 2)]

    @classmethod
    def from_list(cls, row: list[Any]) -> Box:
        return cls(str(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4]))


@dataclass(frozen=True)
class LabelSet:
    """The boxes one source gave an image (empty = reviewed as defect-free)."""

    image_hash: str
    boxes: tuple[Box, ...]
    provenance: Provenance
    source_ref: str
    created_at: float


@dataclass(frozen=True)
class ImageRecord:
    hash: str
    width: int
    height: int
    source: str
    product: str | None
    #: ``train`` or ``val`` when the imported dataset gave the image a split; None: the hash decides.
    split: str | None = None

    def split_for(self, test_fraction: float) -> str:
        """The image's split in every version: the dataset's own, else :func:`split_of` its hash."""
        return self.split or split_of(self.hash, test_fraction)


def split_of(image_hash: str, test_fraction: float) -> str:
    """``val`` or ``train`` from the image hash alone: an image never changes split between versions."""
    return "val" if int(image_hash[:8], 16) % 1000 < round(test_fraction * 1000) else "train"


@dataclass(frozen=True)
class PlannedImage:
    """One validated image of an import, with its boxes (pixel coordinates)."""

    path: Path
    data: bytes
    width: int
    height: int
    boxes: tuple[Box, ...]
    label_ref: str
    #: The split the dataset itself gave the image (``train``, ``val`` or ``test``), None when it gave none:
    #: ``val``/``test`` images become the product's fixed evaluation set.
    split: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """Everything an importer validated; the store commits it in one transaction."""

    format: str
    root: Path
    class_names: tuple[str, ...]
    images: tuple[PlannedImage, ...]


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable, frozen selection of labelled images. ``sha256`` hashes the canonical manifest."""

    name: str
    sha256: str
    created_at: float
    manifest: dict[str, Any] = field(compare=False, repr=False)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["class_names"])

    @property
    def images(self) -> list[dict[str, Any]]:
        return list(self.manifest["images"])


@dataclass(frozen=True)
class DatasetStats:
    images: int
    labelled: int
    defect_free: int
    boxes_per_class: dict[str, int]
    images_per_class: dict[str, int]
    per_provenance: dict[str, int]
    per_split: dict[str, int]
