"""ImportPlan -> YOLO folder (all images in val), and matching a folder's classes to a model's by name."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from training.datasets import Box, ImportPlan, PlannedImage
from training.evaluation import EmptyDataError, EvaluationError, UnknownClassError, match_classes, write_plan

W, H = 200, 100


def _jpeg() -> bytes:
    return cv2.imencode(".jpg", np.full((H, W, 3), 128, np.uint8))[1].tobytes()


def _plan(names: tuple[str, ...], *images: tuple[str, tuple[Box, ...], str | None]) -> ImportPlan:
    planned = tuple(
        PlannedImage(Path("/data") / path, _jpeg(), W, H, boxes, f"ref:{path}", split)
        for path, boxes, split in images
    )
    return ImportPlan("test", Path("/data"), names, planned)


def _labels(data_yaml: Path) -> list[str]:
    return [p.read_text() for p in sorted((data_yaml.parent / "labels" / "val").glob("*.txt"))]


@pytest.mark.parametrize(
    ("plan", "names", "labels"),
    [
        (  # one box, ids follow the plan's class names; the dataset's own split is ignored
            _plan(("scratch", "dent"), ("a/x.jpg", (Box("dent", 0, 0, 100, 50),), "train")),
            ["scratch", "dent"],
            ["1 0.250000 0.250000 0.500000 0.500000\n"],
        ),
        (  # a defect-free image: an empty label file
            _plan(("scratch",), ("x.png", (), None)),
            ["scratch"],
            [""],
        ),
        (  # a box over the edge is clipped to the image
            _plan(("scratch",), ("x.jpg", (Box("scratch", 150, 50, 260, 120),), "val")),
            ["scratch"],
            ["0 0.875000 0.750000 0.250000 0.500000\n"],
        ),
        (  # a box of a class the plan did not list gets the next id
            _plan(("scratch",), ("x.jpg", (Box("stain", 0, 0, 20, 10),), None)),
            ["scratch", "stain"],
            ["1 0.050000 0.050000 0.100000 0.100000\n"],
        ),
        (  # two images of the same name in two folders both kept
            _plan(("scratch",), ("a/x.jpg", (), None), ("b/x.jpg", (), None)),
            ["scratch"],
            ["", ""],
        ),
    ],
)
def test_write_plan(tmp_path: Path, plan: ImportPlan, names: list[str], labels: list[str]) -> None:
    data_yaml = write_plan(plan, tmp_path / "yolo")
    cfg = yaml.safe_load(data_yaml.read_text())
    assert cfg["names"] == dict(enumerate(names))
    assert cfg["val"] == cfg["train"] == "images/val" and Path(cfg["path"]) == (tmp_path / "yolo").resolve()
    images = sorted((tmp_path / "yolo" / "images" / "val").glob("*.jpg"))
    assert len(images) == len(plan.images) and not (tmp_path / "yolo" / "images" / "train").exists()
    assert images[0].read_bytes() == plan.images[0].data
    assert _labels(data_yaml) == labels


TWO = _plan(
    ("dent", "scratch", "crack"),
    ("a.jpg", (Box("scratch", 0, 0, 20, 10), Box("dent", 0, 0, 20, 10)), None),
    ("b.jpg", (Box("crack", 0, 0, 20, 10),), None),
    ("c.jpg", (), None),
)
XY = "0.050000 0.050000 0.100000 0.100000\n"


@pytest.mark.parametrize(
    ("model", "ignore", "labels", "dropped"),
    [
        (("scratch", "dent", "crack"), False, [f"0 {XY}1 {XY}", f"2 {XY}", ""], {}),  # reordered by name
        (("crack", "dent", "scratch", "stain"), False, [f"2 {XY}1 {XY}", f"0 {XY}", ""], {}),  # superset
        (("scratch", "dent"), True, [f"0 {XY}1 {XY}", "", ""], {"crack": 1}),  # unknown dropped, counted
    ],
)
def test_match_classes(
    tmp_path: Path, model: tuple[str, ...], ignore: bool, labels: list[str], dropped: dict[str, int]
) -> None:
    data_yaml = write_plan(TWO, tmp_path)
    (tmp_path / "labels" / "val.cache").write_bytes(b"stale")
    match = match_classes(data_yaml, model, ignore_unknown=ignore)
    assert _labels(data_yaml) == labels and dict(match.dropped) == dropped
    assert yaml.safe_load(data_yaml.read_text())["names"] == dict(enumerate(model))
    assert not (tmp_path / "labels" / "val.cache").exists()
    assert match.images == 3 and sorted(len(b) for b in match.labels.values()) == sorted(
        len(t.splitlines()) for t in labels
    )


def test_unknown_class_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnknownClassError, match=r"'crack' \(1 boxes\).*--ignore-unknown-classes"):
        match_classes(write_plan(TWO, tmp_path), ("scratch", "dent"), model="factoryloop-x v3")


def test_a_declared_class_without_boxes_is_no_error(tmp_path: Path) -> None:
    plan = _plan(("scratch", "weird"), ("a.jpg", (Box("scratch", 0, 0, 20, 10),), None))
    assert match_classes(write_plan(plan, tmp_path), ("scratch",)).dropped == {}


def test_empty_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(EmptyDataError, match="no images"):
        match_classes(write_plan(_plan(("a",)), tmp_path / "empty"), ("a",))
    data_yaml = write_plan(_plan(("a",), ("x.jpg", (), None)), tmp_path / "bad")
    next((tmp_path / "bad" / "labels" / "val").glob("*.txt")).write_text("0 0.5 0.5\n")
    with pytest.raises(EvaluationError, match=r"expected 'class cx cy w h'"):
        match_classes(data_yaml, ("a",))
