"""COCO importer: one instances JSON (``images``, ``annotations`` with ``bbox`` [x,y,w,h], ``categories``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import read_image
from training.datasets.importers.base import Progress, tick
from training.datasets.types import Box, ImportPlan, PlannedImage


def _find_json(root: Path) -> Path:
    if root.is_file():
        return root
    hits = sorted(root.glob("*.json")) + sorted(root.glob("annotations/*.json"))
    if len(hits) != 1:
        raise DatasetError(f"{root}: expected exactly one COCO .json (or pass the file), found {len(hits)}")
    return hits[0]


def _image_path(js: Path, file_name: str) -> Path | None:
    for base in (js.parent, js.parent / "images", js.parent.parent / "images", js.parent.parent):
        if (base / file_name).is_file():
            return base / file_name
    return None


def import_coco(root: Path, *, progress: Progress | None = None) -> ImportPlan:
    js = _find_json(Path(root))
    try:
        doc: dict[str, Any] = json.loads(js.read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in doc["images"]}
        cats = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
        anns = list(doc.get("annotations", []))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{js}: invalid COCO JSON: {exc!r}") from exc
    names = tuple(cats[k] for k in sorted(cats))
    per_image: dict[int, list[tuple[str, list[float], int]]] = {i: [] for i in images}
    for n, ann in enumerate(anns):
        try:
            image_id, cat, bbox = (
                int(ann["image_id"]),
                int(ann["category_id"]),
                [float(v) for v in ann["bbox"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{js}: annotation #{n}: malformed: {exc!r}") from exc
        if image_id not in images:
            raise CorruptFileError(f"{js}: annotation #{n} refers to missing image id {image_id}")
        if cat not in cats:
            raise CorruptFileError(f"{js}: annotation #{n} refers to unknown category id {cat}")
        if len(bbox) != 4 or bbox[2] <= 0 or bbox[3] <= 0:
            raise CorruptFileError(f"{js}: annotation #{n}: bbox must be [x, y, w, h] with w, h > 0")
        per_image[image_id].append((cats[cat], bbox, n))
    planned: list[PlannedImage] = []
    for image_id in sorted(images):
        file_name = str(images[image_id].get("file_name", ""))
        path = _image_path(js, file_name)
        if path is None:
            raise CorruptFileError(f"{js}: image id {image_id} file {file_name!r} not found")
        data, w, h = read_image(path)
        boxes = []
        for name, (x, y, bw, bh), n in per_image[image_id]:
            box = Box(name, x, y, x + bw, y + bh).clipped(w, h)
            if box is None:
                raise CorruptFileError(f"{js}: annotation #{n}: bbox lies outside image {file_name!r}")
            boxes.append(box)
        planned.append(PlannedImage(path, data, w, h, tuple(boxes), f"{js}#image={image_id}"))
        tick(progress)
    return ImportPlan("coco", Path(root), names, tuple(planned))
