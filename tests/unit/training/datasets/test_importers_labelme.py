"""LabelMe importer: rectangle/polygon/circle shapes, class files, folder splits, refused shapes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.datasets import CorruptFileError, DatasetError, get_importer

W, H = 64, 48


def _jpeg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W, 3), 127, np.uint8))
    return path


def _shape(label: str, points: list, kind: str | None = "polygon") -> dict:
    return {"label": label, "points": points, "group_id": None, "shape_type": kind, "flags": {}}


def _labelme(
    json_path: Path, shapes: list[dict], image: str | None = None, size=(W, H), write_image=True
) -> Path:
    image = image or json_path.with_suffix(".jpg").name
    if write_image:
        _jpeg(json_path.parent / image)
    doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image, "imageData": None}
    doc |= {"imageWidth": size[0], "imageHeight": size[1]}
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc))
    return json_path


@pytest.mark.parametrize(
    ("shape", "want"),
    [
        (_shape("crack", [[30, 20], [10, 5]], "rectangle"), (10, 5, 30, 20)),
        (_shape("crack", [[10, 12], [30.5, 14], [20, 40]]), (10, 12, 30.5, 40)),
        (_shape("crack", [[10, 12], [30.5, 14], [20, 40]], None), (10, 12, 30.5, 40)),  # default: polygon
        (_shape("crack", [[30, 20], [33, 24]], "circle"), (25, 15, 35, 25)),
        (_shape("crack", [[-5, 12], [30, 14], [80, 60]]), (0, 12, 64, 48)),
    ],
)
def test_shapes_become_boxes(tmp_path, shape, want) -> None:
    _labelme(tmp_path / "a.json", [shape])
    plan = get_importer("labelme")(tmp_path)
    (box,) = plan.images[0].boxes
    assert plan.format == "labelme" and box.class_name == "crack"
    assert np.allclose((box.x1, box.y1, box.x2, box.y2), want)


def test_class_order_splits_and_image_paths(tmp_path) -> None:
    rect = [[1, 1], [5, 5]]
    _labelme(
        tmp_path / "train" / "t.json",
        [_shape("scratch", rect, "rectangle"), _shape("dent", rect, "rectangle")],
    )
    _labelme(tmp_path / "valid" / "ann" / "v.json", [], image="../img/v.png", write_image=False)
    _jpeg(tmp_path / "valid" / "img" / "v.png")
    _labelme(
        tmp_path / "test" / "s.json", [_shape("dent", rect, "rectangle")], image="o\\s.jpg", write_image=False
    )
    _jpeg(tmp_path / "test" / "o" / "s.jpg")  # imagePath written on Windows
    _labelme(tmp_path / "misc" / "m.json", [])
    _jpeg(tmp_path / "train" / "unlabelled.jpg")  # no JSON: not imported
    plan = get_importer("labelme")(tmp_path)
    assert plan.class_names == ("dent", "scratch")
    assert {p.path.stem: p.split for p in plan.images} == {"t": "train", "v": "val", "s": "test", "m": None}
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\nscratch\ndent\nrust\n")
    assert get_importer("labelme")(tmp_path).class_names == ("scratch", "dent", "rust")


def test_embedded_image_data_is_used_when_the_file_is_missing(tmp_path) -> None:
    js = _labelme(tmp_path / "a.json", [_shape("crack", [[1, 1], [5, 5]], "rectangle")], image="gone.jpg")
    (tmp_path / "gone.jpg").unlink()
    doc = json.loads(js.read_text())
    doc["imageData"] = base64.b64encode(
        cv2.imencode(".png", np.zeros((H, W, 3), np.uint8))[1].tobytes()
    ).decode()
    js.write_text(json.dumps(doc))
    (img,) = get_importer("labelme")(tmp_path).images
    assert (img.width, img.height, img.data[:2]) == (W, H, b"\xff\xd8")


@pytest.mark.parametrize(
    ("shapes", "size", "what"),
    [
        (
            [_shape("crack", [[1, 1], [5, 5]])],
            (W, H),
            "shape #0 label 'crack': polygon needs at least 3 points, got 2",
        ),
        ([_shape("crack", [[1, 1], [5, 5], [9, 9]], "rectangle")], (W, H), "rectangle needs 2 points, got 3"),
        ([_shape("crack", [[1, 1], [5, 5]], "line")], (W, H), "shape_type 'line' is not supported"),
        ([_shape("crack", [[1, 1]], "point")], (W, H), "shape_type 'point' is not supported"),
        ([_shape("crack", [[1, 1], [5, 5], [9, 1]], "linestrip")], (W, H), "'linestrip' is not supported"),
        ([_shape("crack", [[1, 1]], "circle")], (W, H), "circle needs 2 points"),
        ([_shape("crack", [[1, 1], [1, 1]], "circle")], (W, H), "degenerate shape"),
        ([_shape("crack", [[1, "x"], [5, 5]], "rectangle")], (W, H), "points must be x, y pairs"),
        ([_shape("", [[1, 1], [5, 5]], "rectangle")], (W, H), "shape #0 has no label"),
        ([], (W + 1, H), "imageWidth x imageHeight is 65x48, the image is 64x48"),
    ],
)
def test_bad_shapes_name_file_and_shape(tmp_path, shapes, size, what) -> None:
    _labelme(tmp_path / "a.json", shapes, size=size)
    with pytest.raises(CorruptFileError) as err:
        get_importer("labelme")(tmp_path)
    assert "a.json" in str(err.value) and what in str(err.value)
    assert "[" not in str(err.value)


@pytest.mark.parametrize(
    ("setup", "what"),
    [
        (lambda root: (root / "x.json").write_text('{"images": []}'), "not a LabelMe file"),
        (lambda root: (root / "x.json").write_text("{"), "invalid JSON"),
        (
            lambda root: _labelme(root / "x.json", [], image="gone.jpg", write_image=False),
            "'gone.jpg' not found",
        ),
        (
            lambda root: (root / "classes.txt").write_text("dent\n"),
            "label 'crack' is not in the class list dent",
        ),
        (lambda root: (root / "a.json").unlink(), "no LabelMe .json files found"),
    ],
)
def test_bad_folders(tmp_path, setup, what) -> None:
    _labelme(tmp_path / "a.json", [_shape("crack", [[1, 1], [5, 5]], "rectangle")])
    setup(tmp_path)
    with pytest.raises(DatasetError) as err:
        get_importer("labelme")(tmp_path)
    assert what in str(err.value) and "[" not in str(err.value)
