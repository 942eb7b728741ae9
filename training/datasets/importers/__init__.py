"""Dataset importers, one module per format, and the explicit registry ``IMPORTERS``."""

from __future__ import annotations

from training.datasets.errors import UnknownFormatError
from training.datasets.importers.base import Importer, Progress
from training.datasets.importers.coco import import_coco
from training.datasets.importers.cvat import import_cvat
from training.datasets.importers.labelme import import_labelme
from training.datasets.importers.mask import import_masks, mask_boxes
from training.datasets.importers.voc import import_voc
from training.datasets.importers.yolo import import_yolo

IMPORTERS: dict[str, Importer] = {
    "yolo": import_yolo,
    "voc": import_voc,
    "coco": import_coco,
    "cvat": import_cvat,
    "labelme": import_labelme,
    "mask": import_masks,
}


def get_importer(fmt: str) -> Importer:
    try:
        return IMPORTERS[fmt]
    except KeyError:
        raise UnknownFormatError(f"unknown dataset format {fmt!r}; known: {', '.join(IMPORTERS)}") from None


__all__ = ["IMPORTERS", "Importer", "Progress", "get_importer", "mask_boxes"]
