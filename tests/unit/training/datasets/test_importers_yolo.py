"""YOLO importer: segment polygons (extent boxes), their errors, the dataset's own train/val/test split."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from training.datasets import CorruptFileError, DatasetError, get_importer

W, H = 64, 48


def _jpeg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W, 3), 127, np.uint8))
    return path


def _dataset(root: Path, files: dict[str, str], data: dict | None = None) -> Path:
    """Images (``*.jpg`` keys, any value) and label/list files (other keys, value = text) under ``root``."""
    for rel, text in files.items():
        if rel.endswith(".jpg"):
            _jpeg(root / rel)
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    (root / "data.yaml").write_text(yaml.safe_dump({"names": ["crack", "dent"], **(data or {})}))
    return root


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("0 0.5 0.5 0.5 0.5", ("crack", 16, 12, 48, 36)),
        ("1 0.25 0.25 0.75 0.25 0.5 0.75", ("dent", 16, 12, 48, 36)),
        ("0 0.1 0.5 0.5 0.1 0.9 0.5 0.5 0.9", ("crack", 6.4, 4.8, 57.6, 43.2)),
        ("0 0 0 1 0 1 1", ("crack", 0, 0, 64, 48)),
        ("1 0.5 0.5 1.0005 0.5 0.75 1", ("dent", 32, 24, 64, 48)),  # within the tolerance, clipped
    ],
)
def test_lines_become_boxes(tmp_path, line, want) -> None:
    root = _dataset(tmp_path, {"images/a.jpg": "", "labels/a.txt": line + "\n"})
    plan = get_importer("yolo")(root)
    (box,) = plan.images[0].boxes
    assert box.class_name == want[0]
    assert np.allclose((box.x1, box.y1, box.x2, box.y2), want[1:], atol=1e-6)


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("0 0.1 0.1 0.5 0.5 0.9", "odd number of coordinates"),
        ("0 0.1 0.1", "polygon needs at least 3 points, got 1"),
        ("0 0.1 0.1 0.5 0.5 0.9 0.9 0.2", "odd number of coordinates"),
        ("0 0.1 0.1 0.5", "expected 5 fields"),
        ("0", "expected 5 fields"),
        ("0 0.1 0.1 0.5 0.1 0.9 0.1", "degenerate shape: zero width or height"),
        ("0 0.1 0.1 1.5 0.5 0.9 0.9", "normalised to 0..1"),
        ("0 0.1 -0.2 0.5 0.5 0.9 0.9", "normalised to 0..1"),
        ("2 0.1 0.1 0.5 0.5 0.9 0.9", "class id 2 out of range 0..1"),
        ("0 0.1 x 0.5 0.5 0.9 0.9", "not a number"),
        ("0 0.5 0.5 0 0.1", "w, h > 0"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, what) -> None:
    root = _dataset(tmp_path, {"images/a.jpg": "", "labels/a.txt": "0 0.5 0.5 0.1 0.1\n" + line + "\n"})
    with pytest.raises(CorruptFileError) as err:
        get_importer("yolo")(root)
    assert "a.txt:2" in str(err.value) and what in str(err.value)
    assert "[" not in str(err.value)


_IMAGES = ("images/train/t1.jpg", "images/train/t2.jpg", "images/val/v1.jpg", "images/test/s1.jpg")


@pytest.mark.parametrize(
    ("files", "data", "want"),
    [
        # layout: images/<split>
        (dict.fromkeys(_IMAGES, ""), {}, {"t1": "train", "t2": "train", "v1": "val", "s1": "test"}),
        # Roboflow layout: <split>/images, "valid" = val; an image under no split folder
        (
            dict.fromkeys(
                ("train/images/t1.jpg", "valid/images/v1.jpg", "test/images/s1.jpg", "extra/x.jpg"), ""
            ),
            {},
            {"t1": "train", "v1": "val", "s1": "test", "x": None},
        ),
        # data.yaml folders (relative to path:) override the layout: val declared as the test folder
        (
            dict.fromkeys(_IMAGES, ""),
            {"path": ".", "train": "images/train", "val": "images/test"},
            {"t1": "train", "t2": "train", "v1": None, "s1": "val"},
        ),
        # data.yaml .txt lists (./ relative to the txt) and a list of entries
        (
            {
                **dict.fromkeys(_IMAGES, ""),
                "lists/train.txt": "./../images/train/t1.jpg\n\nimages/val/v1.jpg\n",
            },
            {"train": "lists/train.txt", "val": ["images/train/t2.jpg", "images/test"]},
            {"t1": "train", "v1": "train", "t2": "val", "s1": "val"},
        ),
        # Roboflow's data.yaml: ../train/images relative to a root it is not in (Ultralytics' ../ fallback)
        (
            dict.fromkeys(("train/images/t1.jpg", "valid/images/v1.jpg"), ""),
            {"train": "../train/images", "val": "../valid/images"},
            {"t1": "train", "v1": "val"},
        ),
    ],
)
def test_splits_are_the_datasets_own(tmp_path, files, data, want) -> None:
    root = _dataset(tmp_path / "ds", files, data)
    plan = get_importer("yolo")(root)
    assert {p.path.stem: p.split for p in plan.images} == want


def test_labels_found_in_roboflow_layout(tmp_path) -> None:
    root = _dataset(
        tmp_path, {"valid/images/v1.jpg": "", "valid/labels/v1.txt": "1 0.1 0.1 0.5 0.1 0.5 0.5\n"}
    )
    (img,) = get_importer("yolo")(root).images
    assert img.split == "val" and [b.class_name for b in img.boxes] == ["dent"]


def test_data_yaml_file_may_be_passed(tmp_path) -> None:
    root = _dataset(tmp_path, dict.fromkeys(_IMAGES, ""), {"train": "images/train", "val": "images/val"})
    plan = get_importer("yolo")(root / "data.yaml")
    assert plan.root == tmp_path and sorted(str(p.split) for p in plan.images) == [
        "None",
        "train",
        "train",
        "val",
    ]


@pytest.mark.parametrize(
    ("data", "files", "what"),
    [
        ({"train": "images", "val": "images/val"}, {}, "is listed under both train and val"),
        ({"train": "images/train", "val": "images/nope"}, {}, "val: 'images/nope' not found"),
        ({"train": "list.txt"}, {"list.txt": "images/train/t1.jpg\nimages/train/gone.jpg\n"}, "list.txt:2"),
        ({"train": 3}, {}, "train: expected a folder, a .txt file or a list of those"),
    ],
)
def test_bad_split_declarations(tmp_path, data, files, what) -> None:
    root = _dataset(tmp_path, {**dict.fromkeys(_IMAGES, ""), **files}, data)
    with pytest.raises(DatasetError) as err:
        get_importer("yolo")(root)
    assert what in str(err.value) and "[" not in str(err.value)


def test_listed_images_outside_the_root_are_imported_with_their_labels(tmp_path) -> None:
    outside = _jpeg(tmp_path / "elsewhere" / "images" / "o.jpg")
    (tmp_path / "elsewhere" / "labels").mkdir()
    (tmp_path / "elsewhere" / "labels" / "o.txt").write_text("1 0.5 0.5 0.25 0.25\n")
    root = _dataset(tmp_path / "ds", {"images/a.jpg": "", "val.txt": f"{outside}\n"}, {"val": "val.txt"})
    plan = get_importer("yolo")(root)
    assert {p.path.stem: (p.split, len(p.boxes)) for p in plan.images} == {"a": (None, 0), "o": ("val", 1)}
