"""YOLO importer (Ultralytics layout): ``images/**`` + ``labels/**/*.txt`` mirror, class names from data.yaml.

A label line is a box ``class cx cy w h`` or a segment polygon ``class x1 y1 x2 y2 ... xn yn`` (at least 3
points), all normalised to 0..1; a polygon becomes its extent. Splits: see :mod:`.yolo_splits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import list_images, read_image
from training.datasets.importers.base import Progress, extent_box, polygon_points, tick
from training.datasets.importers.yolo_splits import declared_splits, layout_split
from training.datasets.types import Box, ImportPlan, PlannedImage

_TOL = 1e-3
_YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")


def load_data_yaml(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """(path, mapping) of the dataset's data.yaml, None when there is none."""
    path = next((root / n for n in _YAML_NAMES if (root / n).is_file()), None)
    return None if path is None else read_data_yaml(path)


def read_data_yaml(path: Path) -> tuple[Path, dict[str, Any]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CorruptFileError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(doc, dict):
        raise CorruptFileError(f"{path}: expected a mapping with 'names' (and train/val/test)")
    return path, doc


def read_class_names(root: Path, data_yaml: tuple[Path, dict[str, Any]] | None = None) -> tuple[str, ...]:
    data_yaml = data_yaml or load_data_yaml(root)
    if data_yaml is not None:
        path, doc = data_yaml
        names = doc.get("names")
        if isinstance(names, dict) and names and all(isinstance(k, int) for k in names):
            if sorted(names) != list(range(len(names))):
                raise CorruptFileError(f"{path}: names ids must be 0..{len(names) - 1}")
            return tuple(str(names[i]) for i in range(len(names)))
        if isinstance(names, list) and names:
            return tuple(str(n) for n in names)
        raise CorruptFileError(f"{path}: 'names' must be a non-empty list or an id: name mapping")
    classes_txt = root / "classes.txt"
    if classes_txt.is_file():
        names_list = [ln.strip() for ln in classes_txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if names_list:
            return tuple(names_list)
        raise CorruptFileError(f"{classes_txt}: no class names")
    raise DatasetError(f"{root}: no data.yaml or classes.txt with the class names")


def label_path_for(image: Path, root: Path) -> Path:
    """The label file of an image: the last ``images`` folder of its path swapped for ``labels``, ``.txt``."""
    try:
        rel = image.relative_to(root).parts
        base = root
    except ValueError:  # listed by data.yaml outside the root: Ultralytics' rule on the whole path
        base, rel = Path(image.anchor), image.parts[1:]
    if "images" in rel:
        i = len(rel) - 1 - rel[::-1].index("images")
        rel = (*rel[:i], "labels", *rel[i + 1 :])
    return base.joinpath(*rel).with_suffix(".txt")


def _parse_line(fields: list[str], names: tuple[str, ...], width: int, height: int, where: str) -> Box:
    n_coords = len(fields) - 1
    if n_coords == 0 or n_coords % 2:
        odd = ", an odd number of coordinates" if n_coords % 2 else ""
        raise CorruptFileError(
            f"{where}: expected 5 fields 'class cx cy w h' or a polygon 'class x1 y1 ... xn yn', "
            f"got {len(fields)} fields{odd}"
        )
    try:
        cid = int(fields[0])
        coords = [float(v) for v in fields[1:]]
    except ValueError as exc:
        raise CorruptFileError(f"{where}: not a number: {exc}") from exc
    if not 0 <= cid < len(names):
        raise CorruptFileError(f"{where}: class id {cid} out of range 0..{len(names) - 1}")
    if any(not -_TOL <= v <= 1 + _TOL for v in coords):
        raise CorruptFileError(f"{where}: coordinates must be normalised to 0..1")
    if n_coords == 4:
        cx, cy, w, h = coords
        if not (w > 0 and h > 0):
            raise CorruptFileError(f"{where}: coordinates must be normalised to 0..1 with w, h > 0")
        box = Box(
            names[cid],
            (cx - w / 2) * width,
            (cy - h / 2) * height,
            (cx + w / 2) * width,
            (cy + h / 2) * height,
        ).clipped(width, height)
        if box is None:
            raise CorruptFileError(f"{where}: box lies outside the image")
        return box
    points = [(x * width, y * height) for x, y in polygon_points(coords, where)]
    return extent_box(names[cid], points, width, height, where)


def parse_label_file(path: Path, names: tuple[str, ...], width: int, height: int) -> tuple[Box, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path}: cannot read label file: {exc}") from exc
    boxes: list[Box] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if fields:
            boxes.append(_parse_line(fields, names, width, height, f"{path}:{lineno}"))
    return tuple(boxes)


def import_yolo(root: Path, *, progress: Progress | None = None) -> ImportPlan:
    """Validate a YOLO folder (or its data.yaml). An image without a label file is defect-free."""
    root = Path(root)
    if root.is_file() and root.suffix.lower() in (".yaml", ".yml"):
        data_yaml: tuple[Path, dict[str, Any]] | None = read_data_yaml(root)
        root = root.parent
    else:
        data_yaml = load_data_yaml(root)
    names = read_class_names(root, data_yaml)
    splits = declared_splits(root, data_yaml)
    found = {p.resolve(): p for p in list_images(root)}
    for p in splits or {}:
        found.setdefault(p, p)
    if not found:
        raise DatasetError(f"{root}: no images found")
    planned: list[PlannedImage] = []
    for key in sorted(found):
        img = found[key]
        split = splits.get(key) if splits is not None else layout_split(img, root)
        data, w, h = read_image(img)
        label = label_path_for(img, root)
        boxes = parse_label_file(label, names, w, h) if label.is_file() else ()
        planned.append(PlannedImage(img, data, w, h, boxes, str(label), split))
        tick(progress)
    return ImportPlan("yolo", root, names, tuple(planned))
