"""Images without defects limited to a share of the training: every boxed image kept, a seeded sample of the
rest, listed in a data.yaml Ultralytics trains on (checked by a real tiny training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.models import write_sim_dataset
from training.errors import ModelBuildError
from training.yolo import train_yolo
from training.yolo.background import limit_background
from training.yolo.recipes import TINY_YAML
from training.yolo.split import split_images


def _dataset(root: Path, boxed: int, background: int, *, relative: bool = True) -> Path:
    import cv2

    for sub in ("images", "labels"):
        (root / sub / "train").mkdir(parents=True, exist_ok=True)
    for i in range(boxed + background):
        cv2.imwrite(str(root / "images" / "train" / f"{i:03d}.png"), np.zeros((32, 32, 3), np.uint8))
        (root / "labels" / "train" / f"{i:03d}.txt").write_text("0 0.5 0.5 0.2 0.2\n" if i < boxed else "")
    data = root / "data.yaml"
    spec = {"path": "." if relative else str(root), "train": "images/train", "val": "images/train"}
    data.write_text(yaml.safe_dump({**spec, "names": {0: "a"}}))
    return data


@pytest.mark.parametrize(
    ("boxed", "background", "share", "kept"),
    [
        (4, 20, 0.2, 1),  # at most 20 % of 5: 1 of 20
        (10, 90, 0.1, 1),  # 1 / 11 = 9 %
        (30, 70, 0.25, 10),
        (4, 20, 0.0, 0),
    ],
)
def test_background_limited_to_its_share(
    tmp_path: Path, boxed: int, background: int, share: float, kept: int
) -> None:
    data = _dataset(tmp_path / "data", boxed, background)
    subset = limit_background(data, tmp_path / "out", share)
    assert (subset.with_boxes, subset.background_kept, subset.background_total) == (boxed, kept, background)
    listed = split_images(subset.data_yaml, "train")
    assert len(listed) == boxed + kept
    assert sum(label is not None and label.read_text().strip() != "" for _, label in listed) == boxed
    assert len(split_images(subset.data_yaml, "val")) == boxed + background  # validation sees every image
    assert f"{boxed} with defects and {kept} of the {background} without" in subset.describe()
    again = limit_background(data, tmp_path / "again", share)
    assert split_images(again.data_yaml) == listed  # seeded: the same sample


@pytest.mark.parametrize(("boxed", "background"), [(10, 1), (0, 5)])
def test_nothing_left_out_keeps_the_original(tmp_path: Path, boxed: int, background: int) -> None:
    data = _dataset(tmp_path / "data", boxed, background)
    subset = limit_background(data, tmp_path / "out", 0.1)
    assert subset.data_yaml == data and not (tmp_path / "out").exists()


@pytest.mark.parametrize("share", [1.0, -0.1, 1.5])
def test_a_share_outside_0_1_is_refused(tmp_path: Path, share: float) -> None:
    with pytest.raises(ModelBuildError, match="background share"):
        limit_background(_dataset(tmp_path / "data", 2, 2), tmp_path / "out", share)


def test_split_entries_folders_and_listings(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data", 2, 1, relative=False)
    root = tmp_path / "data"
    (root / "list.txt").write_text("images/train/000.png\n\n" + f"{root / 'images/train/002.png'}\n")
    spec = yaml.safe_load(data.read_text())
    data.write_text(yaml.safe_dump({**spec, "train": ["list.txt", "images/train"]}))
    got = split_images(data)
    assert [p.name for p, _ in got] == ["000.png", "002.png", "000.png", "001.png", "002.png"]
    assert got[0][1] == root / "labels" / "train" / "000.txt"
    with pytest.raises(ModelBuildError, match="test split"):
        split_images(data, "test")


def test_ultralytics_trains_on_the_listing(tmp_path: Path) -> None:
    data = write_sim_dataset(tmp_path / "data", range(6), range(100, 102))
    for i in range(6):  # four good parts, two with defects
        (tmp_path / "data" / "labels" / "train" / f"{i:06d}.txt").write_text(
            "" if i < 4 else "0 0.5 0.5 0.2 0.2\n"
        )
    result = train_yolo(
        data,
        tmp_path / "runs",
        model=str(TINY_YAML),
        epochs=1,
        imgsz=64,
        batch=2,
        device="cpu",
        cache=False,
        max_background=0.34,  # at most 1 of 3: one good part with the two defects
    )
    assert result.train_images == 3
