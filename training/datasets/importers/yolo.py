"""YOLO importer: ``images/**``, ``labels/**/*.txt`` (``class cx cy w h``, normalised), data.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import list_images, read_image
from training.datasets.importers.base import Progress, tick
from training.datasets.types import Box, ImportPlan, PlannedImage

_TOL = 1e-3


def read_class_names(root: Path) -> tuple[str, ...]:
    data_yaml = next((p for p in (root / "data.yaml", root / "dataset.yaml") if p.is_file()), None)
    if data_yaml is not None:
        try:
            names = (yaml.safe_load(data_yaml.read_text(encoding="utf-8")) or {}).get("names")
        except (OSError, yaml.YAMLError, AttributeError) as exc:
            raise CorruptFileError(f"{data_yaml}: cannot read class names: {exc}") from exc
        if isinstance(names, dict) and all(isinstance(k, int) for k in names):
            if sorted(names) != list(range(len(names))):
                raise CorruptFileError(f"{data_yaml}: names ids must be 0..{len(names) - 1}")
            return tuple(str(names[i]) for i in range(len(names)))
        if isinstance(names, list) and names:
            return tuple(str(n) for n in names)
        raise CorruptFileError(f"{data_yaml}: 'names' must be a non-empty list or {{id: name}} mapping")
    classes_txt = root / "classes.txt"
    if classes_txt.is_file():
        names_list = [ln.strip() for ln in classes_txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if names_list:
            return tuple(names_list)
        raise CorruptFileError(f"{classes_txt}: no class names")
    raise DatasetError(f"{root}: no data.yaml or classes.txt with the class names")


def label_path_for(image: Path, root: Path) -> Path:
    rel = image.relative_to(root).parts
    if "images" in rel:
        i = len(rel) - 1 - rel[::-1].index("images")
        rel = (*rel[:i], "labels", *rel[i + 1 :])
    return (root.joinpath(*rel)).with_suffix(".txt")


def parse_label_file(path: Path, names: tuple[str, ...], width: int, height: int) -> tuple[Box, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path}: cannot read label file: {exc}") from exc
    boxes: list[Box] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise CorruptFileError(f"{path}:{lineno}: expected 5 fields 'class cx cy w h', got {len(fields)}")
        try:
            cid = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
        except ValueError as exc:
            raise CorruptFileError(f"{path}:{lineno}: not a number: {exc}") from exc
        if not 0 <= cid < len(names):
            raise CorruptFileError(f"{path}:{lineno}: class id {cid} out of range 0..{len(names) - 1}")
        if not (w > 0 and h > 0) or min(cx, cy) < -_TOL or max(cx, cy) > 1 + _TOL or max(w, h) > 1 + _TOL:
            raise CorruptFileError(f"{path}:{lineno}: coordinates must be normalised to 0..1 with w, h > 0")
        box = Box(
            names[cid],
            (cx - w / 2) * width,
            (cy - h / 2) * height,
            (cx + w / 2) * width,
            (cy + h / 2) * height,
        ).clipped(width, height)
        if box is None:
            raise CorruptFileError(f"{path}:{lineno}: box lies outside the image")
        boxes.append(box)
    return tuple(boxes)


def import_yolo(root: Path, *, progress: Progress | None = None) -> ImportPlan:
    """Validate a YOLO folder. An image without a label file is a background (defect-free) image."""
    root = Path(root)
    names = read_class_names(root)
    images = list_images(root)
    if not images:
        raise DatasetError(f"{root}: no images found")
    planned: list[PlannedImage] = []
    for img in images:
        data, w, h = read_image(img)
        label = label_path_for(img, root)
        boxes = parse_label_file(label, names, w, h) if label.is_file() else ()
        planned.append(PlannedImage(img, data, w, h, boxes, str(label)))
        tick(progress)
    return ImportPlan("yolo", root, names, tuple(planned))
