from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from factoryloop.sim import encode_jpeg
from training.datasets import CorruptFileError, DatasetStore, get_importer, mask_boxes


@pytest.mark.parametrize(("fmt", "tol"), [("yolo", 0.01), ("voc", 1e-6), ("coco", 1e-6), ("mask", 1e-6)])
def test_import_round_trips(make_source, tmp_path, fmt, tol) -> None:
    root, frames = make_source(fmt)
    plan = get_importer(fmt)(root)
    store = DatasetStore(tmp_path / "store")
    store.import_plan(plan, product="plate")
    assert len(store.images()) == len(frames)
    n_boxes = 0
    for f in frames:
        digest = hashlib.sha256(encode_jpeg(f)).hexdigest()
        labels = store.effective_labels(digest)
        assert labels is not None and labels.provenance == "import"
        want = sorted((b.class_name, b.x1, b.y1, b.x2, b.y2) for b in f.boxes)
        got = sorted((b.class_name, b.x1, b.y1, b.x2, b.y2) for b in labels.boxes)
        assert [g[0] for g in got] == [w[0] for w in want]
        assert (
            np.allclose([g[1:] for g in got], [w[1:] for w in want], atol=tol * 320 + 1e-6)
            if want
            else not got
        )
        n_boxes += len(want)
    assert n_boxes > 0


def test_mask_to_boxes_known_mask() -> None:
    mask = np.zeros((50, 60), np.uint8)
    mask[5:10, 7:20] = 255
    mask[30:41, 40:45] = 200
    mask[45, 2] = 255  # speck below min_area
    mask[20:25, 20:25] = 100  # below threshold
    boxes = mask_boxes(mask, "x", min_area=4)
    assert [(b.x1, b.y1, b.x2, b.y2) for b in boxes] == [(7, 5, 20, 10), (40, 30, 45, 41)]


def _corrupt_truncated_jpeg(root):
    img = next((root / "images").rglob("*.jpg"))
    img.write_bytes(img.read_bytes()[:400])
    return img.name, "truncated JPEG"


def _corrupt_four_fields(root):
    label = sorted((root / "labels").rglob("*.txt"))[0]
    label.write_text("0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1\n")
    return f"{label.name}:2", "expected 5 fields"


def _corrupt_class_id(root):
    label = sorted((root / "labels").rglob("*.txt"))[0]
    label.write_text("9 0.5 0.5 0.1 0.1\n")
    return f"{label.name}:1", "class id 9 out of range"


def _corrupt_xml(root):
    xml = sorted((root / "Annotations").glob("*.xml"))[1]
    xml.write_text("<annotation><filename>f1.jpg</filename><object>")
    return xml.name, "invalid XML"


def _corrupt_coco_missing_image(root):
    (root / "images" / "f2.jpg").unlink()
    return "instances.json", "'f2.jpg' not found"


def _corrupt_coco_bad_image_ref(root):
    doc = json.loads((root / "instances.json").read_text())
    doc["annotations"].append({"id": 99, "image_id": 1234, "category_id": 1, "bbox": [1, 1, 2, 2]})
    (root / "instances.json").write_text(json.dumps(doc))
    return "instances.json", "missing image id 1234"


@pytest.mark.parametrize(
    ("fmt", "corrupt"),
    [
        ("yolo", _corrupt_truncated_jpeg),
        ("yolo", _corrupt_four_fields),
        ("yolo", _corrupt_class_id),
        ("voc", _corrupt_xml),
        ("coco", _corrupt_coco_missing_image),
        ("coco", _corrupt_coco_bad_image_ref),
    ],
)
def test_corrupt_files_rejected_naming_the_file(make_source, tmp_path, fmt, corrupt) -> None:
    root, _ = make_source(fmt)
    where, what = corrupt(root)
    with pytest.raises(CorruptFileError) as err:
        get_importer(fmt)(root)
    assert where in str(err.value) and what in str(err.value)


def test_cli_import_is_all_or_nothing(make_source, tmp_path) -> None:
    from typer.testing import CliRunner

    from factoryloop.cli.dataset import app

    root, _ = make_source("yolo")
    _corrupt_class_id(root)
    res = CliRunner().invoke(app, ["import", str(root), "--format", "yolo", "--root", str(tmp_path / "s")])
    assert res.exit_code == 1 and "out of range" in res.output
    assert DatasetStore(tmp_path / "s").images() == []


@pytest.mark.parametrize(("fmt", "splits"), [("yolo", {"train", "val"}), ("voc", {None}), ("coco", {None})])
def test_imports_carry_the_datasets_split(make_source, fmt, splits) -> None:
    root, frames = make_source(fmt)
    plan = get_importer(fmt)(root)
    assert {p.split for p in plan.images} == splits
    if fmt == "yolo":  # the simulator writes every 2nd frame to images/val
        want = {f"frame_{f.index:07d}": "val" if f.index % 2 == 0 else "train" for f in frames}
        assert {p.path.stem: p.split for p in plan.images} == want


def test_mixed_yolo_polygons_import_into_the_store(make_source, tmp_path) -> None:
    root, _ = make_source("yolo")
    label = sorted((root / "labels").rglob("*.txt"))[0]
    label.write_text("0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.3 0.1 0.2 0.4\n")
    store = DatasetStore(tmp_path / "store")
    store.import_plan(get_importer("yolo")(root), product="plate")
    assert len(store.images()) == 6


def _voc_file(folder: Path, stem: str) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{stem}.jpg"), np.zeros((20, 30, 3), np.uint8))


def _voc_xml(folder: Path, stem: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.xml").write_text(
        f"<annotation><filename>{stem}.jpg</filename><object><name>crazing</name>"
        "<bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )


def test_voc_splits_from_folder_names_and_image_sets(tmp_path: Path) -> None:
    # NEU-DET's layout: IMAGES + ANNOTATIONS (no split), Validation_Images + Validation_Annotations (val)
    root = tmp_path / "neu"
    for stem in ("a1", "a2", "a3"):
        _voc_file(root / "IMAGES", stem)
        _voc_xml(root / "ANNOTATIONS", stem)
    _voc_file(root / "Validation_Images", "v1")
    _voc_xml(root / "Validation_Annotations", "v1")
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "test.txt").write_text("a2\n")
    (root / "ImageSets" / "Main" / "trainval.txt").write_text("a1\n")
    plan = get_importer("voc")(root)
    assert {p.path.stem: p.split for p in plan.images} == {
        "a1": "train",
        "a2": "test",
        "a3": None,
        "v1": "val",
    }


@pytest.mark.parametrize(
    ("flag", "stored", "said"),
    [
        ([], {"train", "val"}, "held out by the dataset's own val/test split"),
        (["--ignore-splits"], {None}, "held out by image hash"),
    ],
    ids=["own-splits", "ignore-splits"],
)
def test_cli_import_own_or_hash_splits(make_source, tmp_path, flag, stored, said) -> None:
    from typer.testing import CliRunner

    from factoryloop.cli.dataset import app

    root, frames = make_source("yolo")  # every 2nd frame in images/val
    args = ["import", str(root), "--format", "yolo", "--product", "plate", "--root", str(tmp_path / "s")]
    res = CliRunner().invoke(app, [*args, *flag])
    assert res.exit_code == 0, res.output
    assert said in " ".join(res.output.split())
    images = DatasetStore(tmp_path / "s").images()
    assert len(images) == len(frames) and {i.split for i in images} == stored
