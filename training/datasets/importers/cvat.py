"""CVAT for images 1.1 importer: ``annotations.xml`` (or the one ``.xml`` in the folder) and its images.

Class names, in order, from ``<meta><task|project|job><labels><label><name>``. Per ``<image name width
height subset>``: ``<box xtl ytl xbr ybr rotation>``, ``<polygon points="x1,y1;x2,y2;...">``, ``<ellipse cx
cy rx ry>`` and ``<mask left top width height>`` become boxes (their extent); ``<tag>`` is ignored;
``<polyline>``, ``<points>``, ``<cuboid>`` and ``<skeleton>`` are refused. ``subset`` Train/Validation/Test
gives the split.
"""

from __future__ import annotations

import math

# defusedxml is not a dependency: the XML is the operator's own CVAT export, and expat does not fetch
# external entities or DTDs.
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from training.datasets.errors import CorruptFileError, DatasetError
from training.datasets.imaging import read_image
from training.datasets.importers.base import (
    Progress,
    extent_box,
    ordered_classes,
    polygon_points,
    split_word,
    tick,
)
from training.datasets.types import Box, ImportPlan, PlannedImage

_SUPPORTED = ("box", "polygon", "ellipse", "mask")
_IGNORED = ("tag",)


def find_xml(root: Path) -> Path:
    if root.is_file():
        return root
    if (root / "annotations.xml").is_file():
        return root / "annotations.xml"
    hits = sorted(root.glob("*.xml"))
    if len(hits) != 1:
        raise DatasetError(f"{root}: expected annotations.xml or exactly one CVAT .xml, found {len(hits)}")
    return hits[0]


def _labels(doc: ET.Element) -> tuple[str, ...]:
    for owner in ("task", "project", "job"):
        labels = doc.findall(f"meta/{owner}/labels/label")
        if labels:
            return tuple((label.findtext("name") or "").strip() for label in labels)
    return ()


def _float(el: ET.Element, attr: str, where: str) -> float:
    raw = el.get(attr)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise CorruptFileError(f"{where}: attribute {attr} must be a number, got {raw!r}")
    return value


def _points(text: str | None, where: str) -> list[tuple[float, float]]:
    try:
        coords = [float(v) for pair in (text or "").split(";") if pair.strip() for v in pair.split(",")]
    except ValueError as exc:
        raise CorruptFileError(f"{where}: points must be 'x1,y1;x2,y2;...': {exc}") from exc
    return polygon_points(coords, where)


def shape_box(el: ET.Element, width: int, height: int, where: str) -> Box:
    """The box of one ``<box>``, ``<polygon>``, ``<ellipse>`` or ``<mask>``."""
    label = (el.get("label") or "").strip()
    if not label:
        raise CorruptFileError(f"{where}: no label")
    angle = math.radians(_float(el, "rotation", where)) if el.get("rotation") else 0.0
    cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
    if el.tag == "box":
        x1, y1, x2, y2 = (_float(el, a, where) for a in ("xtl", "ytl", "xbr", "ybr"))
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        hw, hh = hw * cos + hh * sin, hw * sin + hh * cos
        points = [(cx - hw, cy - hh), (cx + hw, cy + hh)]
    elif el.tag == "polygon":
        points = _points(el.get("points"), where)
    elif el.tag == "ellipse":
        cx, cy, rx, ry = (_float(el, a, where) for a in ("cx", "cy", "rx", "ry"))
        hw, hh = math.hypot(rx * cos, ry * sin), math.hypot(rx * sin, ry * cos)
        points = [(cx - hw, cy - hh), (cx + hw, cy + hh)]
    else:  # mask
        left, top, w, h = (_float(el, a, where) for a in ("left", "top", "width", "height"))
        points = [(left, top), (left + w, top + h)]
    return extent_box(label, points, width, height, where)


def _image_file(xml: Path, name: str, subset: str) -> Path | None:
    bases = (xml.parent, xml.parent / "images", xml.parent / "images" / subset)
    return next((b / name for b in bases if name and (b / name).is_file()), None)


@dataclass(frozen=True)
class _Image:
    path: Path
    name: str
    width: int
    height: int
    split: str | None
    shapes: tuple[tuple[ET.Element, str], ...]


def _parse_image(el: ET.Element, xml: Path, given: tuple[str, ...]) -> _Image:
    name, subset = el.get("name", ""), el.get("subset", "")
    where = f"{xml}: image {name!r} (id {el.get('id', '?')})"
    path = _image_file(xml, name, subset)
    if path is None:
        raise CorruptFileError(f"{where}: file not found next to the XML or under images/")
    shapes = []
    for n, shape in enumerate(el, 1):
        label = (shape.get("label") or "").strip()
        shape_where = f"{where} {shape.tag} #{n} label {label!r}"
        if shape.tag in _IGNORED:
            continue
        if shape.tag not in _SUPPORTED:
            raise CorruptFileError(
                f"{shape_where}: <{shape.tag}> is not supported, only {', '.join(_SUPPORTED)}"
            )
        if given and label not in given:
            raise CorruptFileError(f"{shape_where}: label is not in the task's labels {', '.join(given)}")
        shapes.append((shape, shape_where))
    width, height = (int(_float(el, a, where)) for a in ("width", "height"))
    return _Image(path, name, width, height, split_word(subset), tuple(shapes))


def import_cvat(root: Path, *, progress: Progress | None = None) -> ImportPlan:
    root = Path(root)
    xml = find_xml(root)
    try:
        doc = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise CorruptFileError(f"{xml}: invalid XML: {exc}") from exc
    if doc.tag != "annotations":
        raise CorruptFileError(
            f"{xml}: root element is <{doc.tag}>, expected <annotations> (CVAT for images 1.1)"
        )
    if doc.find("track") is not None:
        raise CorruptFileError(
            f"{xml}: holds <track> elements (CVAT for video); export as CVAT for images 1.1"
        )
    given = _labels(doc)
    images = [_parse_image(el, xml, given) for el in doc.findall("image")]
    if not images:
        raise DatasetError(f"{xml}: no <image> elements")
    found = {(s.get("label") or "").strip() for im in images for s, _ in im.shapes}
    names = ordered_classes(found, given or None)
    planned: list[PlannedImage] = []
    for im in images:
        data, w, h = read_image(im.path)
        if (w, h) != (im.width, im.height):
            raise CorruptFileError(
                f"{xml}: image {im.name!r} is {w}x{h}, the XML says {im.width}x{im.height}"
            )
        boxes = tuple(shape_box(s, w, h, where) for s, where in im.shapes)
        planned.append(PlannedImage(im.path, data, w, h, boxes, f"{xml}#image={im.name}", im.split))
        tick(progress)
    return ImportPlan("cvat", root, names, tuple(planned))
