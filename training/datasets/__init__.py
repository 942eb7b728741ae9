"""Dataset tooling: importers (YOLO, VOC, COCO, masks), a content-addressed store and immutable versions."""

from training.datasets.errors import CorruptFileError, DatasetError, UnknownFormatError, VersionNotFoundError
from training.datasets.importers import IMPORTERS, get_importer, mask_boxes
from training.datasets.store import DatasetStore, default_root
from training.datasets.types import (
    PRECEDENCE,
    Box,
    DatasetStats,
    DatasetVersion,
    ImageRecord,
    ImportPlan,
    LabelSet,
    PlannedImage,
    Provenance,
)
from training.datasets.versions import manifest_sha256, split_of

__all__ = [
    "IMPORTERS",
    "PRECEDENCE",
    "Box",
    "CorruptFileError",
    "DatasetError",
    "DatasetStats",
    "DatasetStore",
    "DatasetVersion",
    "ImageRecord",
    "ImportPlan",
    "LabelSet",
    "PlannedImage",
    "Provenance",
    "UnknownFormatError",
    "VersionNotFoundError",
    "default_root",
    "get_importer",
    "manifest_sha256",
    "mask_boxes",
    "split_of",
]
