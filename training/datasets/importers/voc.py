"""Pascal VOC importer: one XML per image (``<object><name>``, ``<bndbox>`` 1-based inclusive pixels).

The dataset's own split, when it gives one: VOC's ``ImageSets/Main/{train,val,test}.txt`` lists (``trainval``
means train), else a split word in the folders of the annotation or the image (``Validation_Images/``,
``val/``, ...). ``val``/``test`` images become the product's fixed evaluation set.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import list_images, read_image
from training.datasets.importers.base import (
    Progress,
    check_known,
    ordered_classes,
    split_from_dirs,
    tick,
)
from training.datasets.types import Box, ImportPlan, PlannedImage


def _text(node: ET.Element, tag: str, xml: Path) -> str:
    found = node.find(tag)
    if found is None or found.text is None or not found.text.strip():
        raise CorruptFileError(f"{xml}: missing <{tag}>")
    return found.text.strip()


def parse_voc(xml: Path) -> tuple[str, list[tuple[str, float, float, float, float]]]:
    """(filename, [(name, xmin, ymin, xmax, ymax)]) of one annotation file."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise CorruptFileError(f"{xml}: invalid XML: {exc}") from exc
    if root.tag != "annotation":
        raise CorruptFileError(f"{xml}: root element is <{root.tag}>, expected <annotation>")
    filename = _text(root, "filename", xml)
    objects = []
    for n, obj in enumerate(root.findall("object"), 1):
        name = _text(obj, "name", xml)
        bnd = obj.find("bndbox")
        if bnd is None:
            raise CorruptFileError(f"{xml}: object {n} ({name}) has no <bndbox>")
        try:
            coords = [float(_text(bnd, t, xml)) for t in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError as exc:
            raise CorruptFileError(f"{xml}: object {n} ({name}): bad coordinate: {exc}") from exc
        objects.append((name, coords[0], coords[1], coords[2], coords[3]))
    return filename, objects


def _find_image(xml: Path, filename: str, index: dict[str, list[Path]]) -> Path:
    name = Path(filename).name
    candidates = index.get(name) or index.get(Path(name).stem, [])
    if not candidates:
        raise CorruptFileError(f"{xml}: image {filename!r} not found")
    if len(candidates) == 1:
        return candidates[0]
    want = str(xml.parent).lower().replace("annotations", "images")
    for cand in candidates:
        if str(cand.parent).lower() == want or cand.parent == xml.parent:
            return cand
    raise CorruptFileError(f"{xml}: image {filename!r} is ambiguous: {', '.join(map(str, candidates))}")


def _image_sets(root: Path) -> dict[str, str]:
    """Image stem -> split from VOC ``ImageSets/Main/<split>.txt`` files (the first split that names it)."""
    out: dict[str, str] = {}
    for folder in root.rglob("ImageSets"):
        for name, split in (("test", "test"), ("val", "val"), ("train", "train"), ("trainval", "train")):
            listed = folder / "Main" / f"{name}.txt"
            if listed.is_file():
                for line in listed.read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.split():
                        out.setdefault(line.split()[0], split)
    return out


def import_voc(
    root: Path, *, progress: Progress | None = None, class_names: tuple[str, ...] | None = None
) -> ImportPlan:
    """Validate every XML under ``root`` and the images they name (searched anywhere under ``root``)."""
    root = Path(root)
    xmls = sorted(root.rglob("*.xml"))
    if not xmls:
        raise DatasetError(f"{root}: no VOC .xml annotation files found")
    index: dict[str, list[Path]] = {}
    for img in list_images(root):
        index.setdefault(img.name, []).append(img)
        index.setdefault(img.stem, []).append(img)
    parsed = [(xml, *parse_voc(xml)) for xml in xmls]
    found = {obj[0] for _, _, objs in parsed for obj in objs}
    names = ordered_classes(found, class_names)
    check_known(found, names, root)
    sets = _image_sets(root)
    planned: list[PlannedImage] = []
    for xml, filename, objs in parsed:
        img = _find_image(xml, filename, index)
        data, w, h = read_image(img)
        boxes = []
        for name, x1, y1, x2, y2 in objs:
            box = Box(name, x1 - 1, y1 - 1, x2, y2).clipped(w, h) if x2 >= x1 and y2 >= y1 else None
            if box is None:
                raise CorruptFileError(
                    f"{xml}: object {name} box {(x1, y1, x2, y2)} is empty or outside {w}x{h}"
                )
            boxes.append(box)
        split = sets.get(img.stem) or split_from_dirs(xml, root) or split_from_dirs(img, root)
        planned.append(PlannedImage(img, data, w, h, tuple(boxes), str(xml), split))
        tick(progress)
    return ImportPlan("voc", root, names, tuple(planned))
