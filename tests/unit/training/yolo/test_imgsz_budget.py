"""The input size fitted to a time budget: the data's size when enough epochs fit."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from training.errors import ModelBuildError
from training.yolo.imgsz_budget import (
    MIN_EPOCHS,
    OVERHEAD,
    SizeChoice,
    epochs_that_fit,
    fit_imgsz,
    imgsz_for_budget,
    probe_seconds_per_image,
)
from training.yolo.recipes import TINY_YAML

# The magnetic tiles of session 11: 958 train images at 512 took ~420 s per epoch on two cores.
TILES = {"n_images": 958, "s_per_image_at_wanted": 420 / 958 / OVERHEAD}


@pytest.mark.parametrize(
    ("case", "wanted", "kwargs", "expected"),
    [
        # 30 min less 10 %: 1,620 s; 3.9 epochs at 512, 6.0 at 416, 10.3 at 320, 16.1 at 256
        ("tiles, 30 min", 512, {"train_s": 1620.0, **TILES}, 256),
        # 2 h: 15.4 epochs at 512
        ("tiles, 2 h", 512, {"train_s": 6480.0, **TILES}, 512),
        ("tiles, 10 min: none fits, the smallest", 512, {"train_s": 540.0, **TILES}, 160),
        ("min_epochs lower", 512, {"train_s": 1620.0, "min_epochs": 5, **TILES}, 416),
        ("wanted is the smallest", 160, {"train_s": 10.0, **TILES}, 160),
        # NEU-DET at 160: 1,273 images, ~41 ms each on two cores -> ~30 epochs in 30 min
        ("NEU-DET", 160, {"train_s": 1620.0, "n_images": 1273, "s_per_image_at_wanted": 0.036}, 160),
        ("between candidates: a listed one", 600, {"train_s": 1620.0, **TILES}, 256),
        ("custom candidates", 512, {"train_s": 1620.0, "candidates": (128, 384), **TILES}, 128),
    ],
)
def test_fit_imgsz(case: str, wanted: int, kwargs: dict[str, float], expected: int) -> None:
    choice = fit_imgsz(wanted, **kwargs)  # type: ignore[arg-type]
    assert choice.imgsz == expected, case
    assert choice.wanted == wanted
    assert choice.reduced == (expected < wanted)
    if choice.reduced and choice.imgsz != 160 and "min_epochs" not in kwargs:
        assert choice.epochs_at_chosen >= MIN_EPOCHS > choice.epochs_at_wanted


def test_epochs_scale_with_the_square_of_the_size() -> None:
    at_512 = fit_imgsz(512, train_s=1620.0, **TILES)  # type: ignore[arg-type]
    assert at_512.epochs_at_wanted == pytest.approx(1620 / 420)
    assert at_512.epochs_at_chosen == pytest.approx(1620 / 420 * 4)  # 256: a quarter of the pixels


@pytest.mark.parametrize(
    ("train_s", "n", "cost", "expected"),
    [(100.0, 10, 1.0, 100 / (10 * OVERHEAD)), (-5.0, 10, 1.0, 0.0), (100.0, 0, 1.0, float("inf"))],
)
def test_epochs_that_fit(train_s: float, n: int, cost: float, expected: float) -> None:
    assert epochs_that_fit(train_s, n, cost) == pytest.approx(expected)


def test_the_choice_says_why() -> None:
    text = SizeChoice(imgsz=256, wanted=512, epochs_at_wanted=3.9, epochs_at_chosen=16.1).describe()
    assert "256 instead of the 512" in text and "~3.9 epochs" in text and "--time-budget" in text
    assert SizeChoice(160, 160, 30.4, 30.4).describe() == "input size 160 (~30 epochs fit the budget)"


def test_probe_times_real_training_steps() -> None:
    small = probe_seconds_per_image(str(TINY_YAML), 64, threads=1, batch=2, steps=1)
    large = probe_seconds_per_image(str(TINY_YAML), 256, threads=1, batch=2, steps=1)
    assert 0 < small < large  # 16x the pixels: slower, whatever the load


def _dataset(root: Path, n: int, size: int, box: float) -> Path:
    import cv2

    for sub in ("images", "labels"):
        (root / sub / "train").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(root / "images" / "train" / f"{i}.png"), np.zeros((size, size, 3), np.uint8))
        (root / "labels" / "train" / f"{i}.txt").write_text(f"0 0.5 0.5 {box} {box}\n")
    data = root / "data.yaml"
    data.write_text(
        json.dumps({"path": str(root), "train": "images/train", "val": "images/train", "names": {0: "a"}})
    )
    return data


def test_a_short_budget_lowers_the_size_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _dataset(tmp_path, 3, 640, 0.02)  # 12.8 px defects on 640 px images: the data asks for 512
    with caplog.at_level(logging.INFO, logger="training.yolo.imgsz_budget"):
        lowered = imgsz_for_budget(data, str(TINY_YAML), train_s=0.5, threads=1)
        kept = imgsz_for_budget(data, str(TINY_YAML), train_s=1e6, threads=1)
    assert (lowered.wanted, lowered.imgsz) == (512, 160)
    assert (kept.wanted, kept.imgsz) == (512, 512)
    assert "160 instead of the 512" in caplog.text


def test_no_train_images_is_refused(tmp_path: Path) -> None:
    data = _dataset(tmp_path, 0, 64, 0.5)
    with pytest.raises(ModelBuildError, match="no images"):
        imgsz_for_budget(data, str(TINY_YAML), train_s=10.0, threads=1)
