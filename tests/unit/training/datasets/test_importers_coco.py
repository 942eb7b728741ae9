"""COCO importer: segmentation-only annotations (polygons, RLE), split files, messages without brackets."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.datasets import CorruptFileError, DatasetError, get_importer
from training.datasets.importers.rle import decode_counts, rle_extent

W, H = 64, 48
CATS = [{"id": 7, "name": "scratch"}, {"id": 3, "name": "dent"}]  # ids neither contiguous nor sorted


def _jpeg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((H, W, 3), 127, np.uint8))


def _runs(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts: column-major runs, starting with a (possibly empty) run of zeros."""
    flat = mask.flatten(order="F").astype(np.uint8)
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    return [*counts, run]


def _compress(counts: list[int]) -> str:
    """pycocotools' rleToString, written from its C source: LEB128-like 5-bit groups, deltas from the 3rd."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def _mask(*rects: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    for x1, y1, x2, y2 in rects:
        mask[y1:y2, x1:x2] = 1
    return mask


def _write(root: Path, name: str, anns: list[dict], images=("a.jpg",), first_id: int = 1) -> Path:
    doc = {
        "images": [
            {"id": first_id + i, "file_name": f, "width": W, "height": H} for i, f in enumerate(images)
        ],
        "annotations": [{"id": n, "image_id": first_id, "category_id": 3, **a} for n, a in enumerate(anns)],
        "categories": CATS,
    }
    for f in images:
        _jpeg(root / "images" / f)
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(json.dumps(doc))
    return root


_BLOBS = _mask((5, 7, 9, 20), (30, 2, 31, 3), (12, 40, 50, 47))


@pytest.mark.parametrize(
    ("ann", "want"),
    [
        ({"bbox": [4, 5, 10, 6]}, (4, 5, 14, 11)),
        ({"segmentation": [[10, 10, 30, 12, 20, 25]]}, (10, 10, 30, 25)),
        ({"bbox": [], "segmentation": [[10, 10, 30, 12, 20, 25], [40, 1, 41, 3, 45, 2]]}, (10, 1, 45, 25)),
        ({"segmentation": [10, 10, 30, 12, 20, 25]}, (10, 10, 30, 25)),  # flat, not nested
        ({"segmentation": [[-5, 10, 30, 12, 70, 60]]}, (0, 10, 64, 48)),  # clipped to the image
        ({"segmentation": {"size": [H, W], "counts": _runs(_BLOBS)}, "iscrowd": 1}, (5, 2, 50, 47)),
        ({"segmentation": {"size": [H, W], "counts": _compress(_runs(_BLOBS))}}, (5, 2, 50, 47)),
        ({"segmentation": {"size": [H, W], "counts": _runs(_mask((0, 0, 64, 48)))}}, (0, 0, 64, 48)),
        ({"segmentation": {"size": [H, W], "counts": _runs(_mask((63, 47, 64, 48)))}}, (63, 47, 64, 48)),
    ],
)
def test_annotation_boxes(tmp_path, ann, want) -> None:
    plan = get_importer("coco")(_write(tmp_path, "instances.json", [ann]))
    (box,) = plan.images[0].boxes
    assert box.class_name == "dent" and (box.x1, box.y1, box.x2, box.y2) == want
    assert plan.class_names == ("dent", "scratch") and plan.images[0].split is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compressed_rle_round_trips(seed) -> None:
    mask = (np.random.default_rng(seed).random((H, W)) > 0.97).astype(np.uint8)
    counts = _runs(mask)
    assert decode_counts(_compress(counts), "x") == counts
    ys, xs = np.nonzero(mask)
    assert rle_extent(counts, H, W, "x") == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


@pytest.mark.parametrize(
    ("ann", "what"),
    [
        (
            {"segmentation": [[10, 10, 30, 12]]},
            "annotation #1 polygon 0: polygon needs at least 3 points, got 2",
        ),
        ({"segmentation": [[10, 10, 30, 12, 20, 25], [1, 2, 3]]}, "polygon 1: polygon has an odd number"),
        ({"segmentation": [[10, 10, 30, 10, 20, 10]]}, "annotation #1: degenerate shape"),
        ({"bbox": [1, 1, 0, 5]}, "annotation #1: bbox must be x, y, w, h with w, h > 0"),
        ({"bbox": [1, 1, 5]}, "annotation #1: bbox must be x, y, w, h with w, h > 0"),
        ({"bbox": [100, 100, 5, 5]}, "annotation #1: bbox lies outside image 'a.jpg'"),
        ({"bbox": []}, "annotation #1: has neither a bbox nor a segmentation"),
        ({"segmentation": {"size": [W, H], "counts": [H * W]}}, "RLE size must be height, width"),
        ({"segmentation": {"size": [H, W], "counts": [H * W]}}, "annotation #1: segmentation mask is empty"),
        ({"segmentation": {"size": [H, W], "counts": [5, 6]}}, "RLE counts cover 11 pixels"),
        ({"segmentation": {"size": [H, W], "counts": "0"}}, "RLE counts cover 0 pixels"),
        ({"segmentation": {"size": [H, W], "counts": "R"}}, "ends inside a count"),
        ({"segmentation": {"counts": [1]}}, "RLE with counts and size"),
    ],
)
def test_bad_annotations_are_named(tmp_path, ann, what) -> None:
    root = _write(tmp_path, "instances.json", [{"bbox": [1, 1, 2, 2]}, ann])
    with pytest.raises(CorruptFileError) as err:
        get_importer("coco")(root)
    assert "instances.json" in str(err.value) and what in str(err.value)
    assert "[" not in str(err.value)


def _split_files(root: Path, names: dict[str, str], *, beside: bool = False) -> Path:
    for i, (name, image) in enumerate(names.items()):
        _write(root, name, [{"bbox": [1, 1, 4, 4]}], images=(image,), first_id=1 + 10 * i)
        if beside:  # Roboflow: images next to their JSON
            (root / "images" / image).rename(root / Path(name).parent / image)
    return root


@pytest.mark.parametrize(
    ("names", "beside", "want"),
    [
        (
            {"annotations/instances_train2017.json": "t.jpg", "annotations/instances_val2017.json": "v.jpg"},
            False,
            {"t": "train", "v": "val"},
        ),
        (
            {"train.json": "t.jpg", "coco_validation.json": "v.jpg", "test-set.json": "s.jpg"},
            False,
            {"t": "train", "v": "val", "s": "test"},
        ),
        (
            {"train/_annotations.coco.json": "t.jpg", "valid/_annotations.coco.json": "v.jpg"},
            True,
            {"t": "train", "v": "val"},
        ),
        ({"annotations/instances_train2017.json": "t.jpg"}, False, {"t": None}),  # one JSON: no split
    ],
)
def test_splits_from_file_names(tmp_path, names, beside, want) -> None:
    root = _split_files(tmp_path, names, beside=beside)
    if (root / "annotations").is_dir():  # captions/keypoints files beside the instances ones are ignored
        (root / "annotations" / "captions_train2017.json").write_text("{}")
    plan = get_importer("coco")(root)
    assert {p.path.stem: p.split for p in plan.images} == want


@pytest.mark.parametrize(
    ("names", "what"),
    [
        ({"a.json": "t.jpg", "b.json": "v.jpg"}, "expected exactly one COCO .json"),
        ({"train_a.json": "t.jpg", "train_b.json": "v.jpg"}, "expected exactly one COCO .json"),
        ({"train.json": "t.jpg", "val.json": "t.jpg"}, "'t.jpg' is also listed in"),
    ],
)
def test_ambiguous_split_files(tmp_path, names, what) -> None:
    with pytest.raises(DatasetError) as err:
        get_importer("coco")(_split_files(tmp_path, names))
    assert what in str(err.value) and "[" not in str(err.value)
