"""COCO importer: instances JSON(s) with ``images``, ``annotations`` and ``categories``.

An annotation's box is its ``bbox`` (x, y, w, h); without one (absent or empty) it is the extent of its
``segmentation``: polygons ``x1, y1, x2, y2, ...`` (at least 3 points each) or an RLE mask (``counts`` a list,
or pycocotools' compressed string). One JSON gives no split; several JSONs (``instances_train*.json``,
``*val*.json``, ``*test*.json`` in the folder or ``annotations/``, or one JSON in each ``train/``, ``valid/``,
``test/`` folder as Roboflow exports) each give their images the split their name (or folder) says.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import read_image
from training.datasets.importers.base import Progress, extent_box, listing, polygon_points, split_word, tick
from training.datasets.importers.rle import decode_counts, rle_extent
from training.datasets.types import Box, ImportPlan, PlannedImage

_Ann = tuple[int, str, dict[str, Any]]


def _split_in_name(js: Path) -> str | None:
    return next((s for w in re.findall(r"[a-z]+", js.stem.lower()) if (s := split_word(w))), None)


def find_jsons(root: Path) -> list[tuple[Path, str | None]]:
    """The COCO files of ``root`` with the split each gives (None for a single file)."""
    if root.is_file():
        return [(root, None)]
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    hits = sorted(root.glob("*.json")) + sorted(root.glob("annotations/*.json"))
    hits += [
        js
        for d in sorted(root.iterdir())
        if d.is_dir() and split_word(d.name)
        for js in sorted(d.glob("*.json"))
    ]
    hits = [js for js in hits if js.name.lower().startswith("instances")] or hits  # not captions_*, ...
    if len(hits) == 1:
        return [(hits[0], None)]
    named = [
        (js, _split_in_name(js) or (split_word(js.parent.name) if js.parent != root else None)) for js in hits
    ]
    per_split = Counter(s for _, s in named)
    if not named or None in per_split or any(n > 1 for n in per_split.values()):
        raise DatasetError(
            f"{root}: expected exactly one COCO .json (or pass the file), or one per split named for it "
            f"(instances_train*.json, *val*.json, *test*.json), found {len(named)}: "
            f"{listing(js.relative_to(root) for js, _ in named) or 'none'}"
        )
    return named


def _image_path(js: Path, file_name: str) -> Path | None:
    for base in (js.parent, js.parent / "images", js.parent.parent / "images", js.parent.parent):
        if (base / file_name).is_file():
            return base / file_name
    return None


def _load(js: Path) -> tuple[dict[int, dict[str, Any]], dict[int, str], list[Any]]:
    try:
        doc: dict[str, Any] = json.loads(js.read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in doc["images"]}
        cats = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
        anns = list(doc.get("annotations") or [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptFileError(f"{js}: invalid COCO JSON: {exc!r}") from exc
    return images, cats, anns


def _numbers(values: Any, where: str, what: str) -> list[float]:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(f"{where}: {what} must be numbers: {exc}") from exc


def _segmentation_box(name: str, seg: Any, width: int, height: int, where: str) -> Box:
    if isinstance(seg, list):
        polygons = [seg] if seg and not isinstance(seg[0], list) else seg
        points = [
            p
            for k, poly in enumerate(polygons)
            for p in polygon_points(_numbers(poly, where, "polygon coordinates"), f"{where} polygon {k}")
        ]
        return extent_box(name, points, width, height, where)
    if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
        raise CorruptFileError(
            f"{where}: segmentation must be a list of polygons or an RLE with counts and size"
        )
    size = _numbers(seg["size"], where, "RLE size")
    if len(size) != 2 or (int(size[0]), int(size[1])) != (height, width):
        raise CorruptFileError(f"{where}: RLE size must be height, width of the {width}x{height} image")
    raw = seg["counts"]
    counts = (
        decode_counts(raw, where)
        if isinstance(raw, str)
        else [int(c) for c in _numbers(raw, where, "RLE counts")]
    )
    extent = rle_extent(counts, height, width, where)
    if extent is None:
        raise CorruptFileError(f"{where}: segmentation mask is empty")
    return Box(name, *extent)


def _box(ann: dict[str, Any], name: str, width: int, height: int, where: str, file_name: str) -> Box:
    bbox = ann.get("bbox")
    if bbox is None or (isinstance(bbox, list) and not bbox):
        if not ann.get("segmentation"):
            raise CorruptFileError(f"{where}: has neither a bbox nor a segmentation")
        return _segmentation_box(name, ann["segmentation"], width, height, where)
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise CorruptFileError(f"{where}: bbox must be x, y, w, h with w, h > 0")
    x, y, w, h = _numbers(bbox, where, "bbox")
    if not (w > 0 and h > 0):
        raise CorruptFileError(f"{where}: bbox must be x, y, w, h with w, h > 0")
    box = Box(name, x, y, x + w, y + h).clipped(width, height)
    if box is None:
        raise CorruptFileError(f"{where}: bbox lies outside image {file_name!r}")
    return box


def _annotations_by_image(
    js: Path, images: dict[int, Any], cats: dict[int, str], anns: list[Any]
) -> dict[int, list[_Ann]]:
    per_image: dict[int, list[_Ann]] = {i: [] for i in images}
    for n, ann in enumerate(anns):
        try:
            image_id, cat = int(ann["image_id"]), int(ann["category_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{js}: annotation #{n}: malformed: {exc!r}") from exc
        if image_id not in images:
            raise CorruptFileError(f"{js}: annotation #{n} refers to missing image id {image_id}")
        if cat not in cats:
            raise CorruptFileError(f"{js}: annotation #{n} refers to unknown category id {cat}")
        per_image[image_id].append((n, cats[cat], ann))
    return per_image


def import_coco(root: Path, *, progress: Progress | None = None) -> ImportPlan:
    root = Path(root)
    files = find_jsons(root)
    loaded = [(js, split, *_load(js)) for js, split in files]
    all_cats: dict[int, str] = {}
    for js, _, _, cats, _ in loaded:
        for cid, name in cats.items():
            if all_cats.setdefault(cid, name) != name:
                raise CorruptFileError(
                    f"{js}: category id {cid} is {name!r} here, {all_cats[cid]!r} elsewhere"
                )
    names = tuple(all_cats[k] for k in sorted(all_cats))
    planned: list[PlannedImage] = []
    seen: dict[Path, Path] = {}
    for js, split, images, cats, anns in loaded:
        per_image = _annotations_by_image(js, images, cats, anns)
        for image_id in sorted(images):
            file_name = str(images[image_id].get("file_name", ""))
            path = _image_path(js, file_name)
            if path is None:
                raise CorruptFileError(f"{js}: image id {image_id} file {file_name!r} not found")
            other = seen.setdefault(path.resolve(), js)
            if other != js:
                raise CorruptFileError(f"{js}: image {file_name!r} is also listed in {other}")
            data, w, h = read_image(path)
            boxes = tuple(
                _box(ann, name, w, h, f"{js}: annotation #{n}", file_name)
                for n, name, ann in per_image[image_id]
            )
            planned.append(PlannedImage(path, data, w, h, boxes, f"{js}#image={image_id}", split))
            tick(progress)
    return ImportPlan("coco", root, names, tuple(planned))
