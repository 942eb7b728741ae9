"""The input size chosen from the data: tiny defects on large images -> large sizes, big defects -> small."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.errors import ModelBuildError
from training.yolo.imgsz import (
    BoxSize,
    choose_imgsz,
    dataset_sizes,
    imgsz_for_dataset,
    quantile,
    short_sides_at,
    size_limit,
)


def _boxes(short: float, image: tuple[int, int], n: int = 10) -> list[BoxSize]:
    return [(short, short * 2, float(image[0]), float(image[1]))] * n


@pytest.mark.parametrize(
    ("case", "images", "boxes", "kwargs", "expected"),
    [
        # 12 px defects on 1920x1080 frames: 12 * s / 1920 >= 10 needs s >= 1600 -> capped at 640
        ("tiny defects, large frames", [(1920, 1080)], _boxes(12, (1920, 1080)), {}, 640),
        # 40 px on 1280: 40 * s / 1280 >= 10 -> s >= 320
        ("small defects, HD frames", [(1280, 720)], _boxes(40, (1280, 720)), {}, 320),
        # 30 px on 1280 -> s >= 426.7 -> 512 (416 gives 9.75 px)
        ("between candidates", [(1280, 960)], _boxes(30, (1280, 960)), {}, 512),
        ("big defects", [(1280, 720)], _boxes(300, (1280, 720)), {}, 160),
        ("no boxes: smallest", [(1280, 720)], [], {}, 160),
        # NEU-DET-like: 200x200 images, 18 px boxes: 14.4 px at 160
        ("small images, mid boxes", [(200, 200)], _boxes(18, (200, 200)), {}, 160),
        # 200x200 images (NEU-DET): limit 224, whatever the boxes
        ("small images cap", [(200, 200)], _boxes(5, (200, 200)), {}, 224),
        # 100x90 images: limit 128 is under every candidate: the limit itself
        ("images under every candidate", [(100, 90)], _boxes(50, (100, 90)), {}, 128),
        # 300x300: limit 320; 8 px boxes need 375 -> the largest allowed, 320
        ("limit between candidates", [(300, 300)], _boxes(8, (300, 300)), {}, 320),
        ("max_imgsz", [(1920, 1080)], _boxes(12, (1920, 1080)), {"max_imgsz": 416}, 416),
        ("min_px lower", [(1280, 720)], _boxes(40, (1280, 720)), {"min_px": 8}, 256),
        ("custom candidates", [(1280, 720)], _boxes(300, (1280, 720)), {"candidates": (128, 640)}, 128),
    ],
)
def test_choose_imgsz(
    case: str,
    images: list[tuple[int, int]],
    boxes: list[BoxSize],
    kwargs: dict[str, object],
    expected: int,
) -> None:
    assert choose_imgsz(images, boxes, **kwargs) == expected, case  # type: ignore[arg-type]


def test_the_tenth_percentile_decides() -> None:
    """The smallest tenth of the boxes decides: 1 tiny box in 20 passes, 2 do not (lower rank)."""
    image = (1280, 1280)
    tiny = _boxes(10, image, 1)  # 10 * 640 / 1280 = 5 px even at 640
    assert choose_imgsz([image], _boxes(200, image, 19) + tiny) == 160
    assert choose_imgsz([image], _boxes(200, image, 18) + tiny * 2) == 640  # none reaches 10 px: the largest


def test_mixed_image_sizes_scale_each_box_by_its_own_image() -> None:
    # the same 40 px box is 4x smaller after the resize on a 4x larger image
    small, large = (320, 240), (1280, 960)
    assert short_sides_at([(40, 80, *small)], 320) == [40.0]
    assert short_sides_at([(40, 80, *large)], 320) == [10.0]
    assert size_limit([small, large]) == 640 and size_limit([small]) == 320 and size_limit([]) == 640


@pytest.mark.parametrize(
    ("values", "q", "expected"), [([3, 1, 2, 4], 0.1, 1), ([5], 0.5, 5), ([1, 2, 3], 1.0, 3)]
)
def test_quantile(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == expected


@pytest.mark.parametrize("bad", [(), (224, 250), (0,)])
def test_candidates_must_be_multiples_of_32(bad: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        choose_imgsz([(640, 480)], [], candidates=bad)


def _write_yolo(root: Path, size: tuple[int, int], labels: list[str]) -> Path:
    import cv2

    for i, label in enumerate(labels):
        for sub in ("images", "labels"):
            (root / sub / "train").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "images" / "train" / f"{i}.png"), np.zeros((size[1], size[0], 3), np.uint8))
        (root / "labels" / "train" / f"{i}.txt").write_text(label)
    data = root / "data.yaml"
    data.write_text(
        json.dumps({"path": str(root), "train": "images/train", "val": "images/train", "names": {0: "a"}})
    )
    return data


def test_dataset_sizes_reads_a_yolo_split(tmp_path: Path) -> None:
    data = _write_yolo(tmp_path, (1280, 720), ["0 0.5 0.5 0.025 0.1\n", ""])  # 32 x 72 px
    images, boxes = dataset_sizes(data)
    assert images == [(1280, 720), (1280, 720)]
    assert boxes == [pytest.approx((32.0, 72.0, 1280.0, 720.0))]
    assert imgsz_for_dataset(data) == 416  # 32 * 416 / 1280 = 10.4 px


def test_dataset_without_images_is_refused(tmp_path: Path) -> None:
    data = _write_yolo(tmp_path, (64, 64), [])
    (tmp_path / "images" / "train").mkdir(parents=True)
    with pytest.raises(ModelBuildError, match="no images"):
        imgsz_for_dataset(data)
