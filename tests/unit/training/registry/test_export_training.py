"""What a training validates on: its val split, else ~10 % held out of train, else (too few) train itself."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from training.datasets import Box, DatasetStore, Provenance
from training.registry import ensure_golden, export_training, golden_hashes
from training.registry.golden import TRUTH


def _add(store: DatasetStore, seed: int) -> str:
    img = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    digest = store.add_image(cv2.imencode(".jpg", img)[1].tobytes(), source="t", product="p")
    store.set_labels(digest, [Box("dent", 2, 2, 20, 20)], provenance=Provenance.HUMAN, source_ref=f"r{seed}")
    return digest


def _stems(root: Path, split: str) -> set[str]:
    return {p.stem for p in (root / "images" / split).glob("*.jpg")}


@pytest.mark.parametrize(
    ("before", "after", "expect_val", "note"),
    [
        (60, 0, "carved", "held out of train"),  # every held-out image is golden: carve from train
        (8, 0, "train", "a train score"),  # too few train images: validate on train, and say so
        (40, 80, "val", "val split"),  # later images held out by hash and not golden: the val split
    ],
)
def test_validation_images(tmp_path: Path, before: int, after: int, expect_val: str, note: str) -> None:
    store = DatasetStore(tmp_path / "s")
    for seed in range(before):
        _add(store, seed)
    golden = ensure_golden(store, store.products.create("p", ["dent"]), 0.25)
    for seed in range(before, before + after):
        _add(store, seed)
    version = store.freeze_version(
        "v", products=["p"], provenances=TRUTH, class_names=["dent"], test_fraction=0.25
    )
    out = tmp_path / "data"
    data, validation = export_training(store, version, golden, out)
    assert note in validation
    train, val = _stems(out, "train"), _stems(out, "val")
    golden_set = golden_hashes(golden)
    assert not (train | val) & golden_set and train
    cfg = yaml.safe_load(data.read_text())
    if expect_val == "train":
        assert cfg["val"] == "images/train" and not val
    else:
        assert cfg["val"] != "images/train" and val and not train & val
        assert all((out / "labels" / "val" / f"{s}.txt").is_file() for s in val)
    if expect_val == "carved":
        assert len(val) == (len(train) + len(val)) // 10
        export_training(store, version, golden, tmp_path / "again")
        assert _stems(tmp_path / "again", "val") == val  # the same images every export
