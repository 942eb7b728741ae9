"""Limit the share of images without defects a short training sees, so its time goes to the defects.

A plant's data is mostly good parts: 71 % of the magnetic tiles show no defect. Every epoch spends as much
on each of them as on a defect, and a time budget buys a fixed number of images: under 30 minutes on two
cores the tiles trained 4 epochs (docs/benchmarks.md). Ultralytics' own advice is 0-10 % background
images ("Tips for best training results"). :func:`limit_background` keeps every image with a box and a
seeded random sample of the others, so that they are at most ``share`` of what is trained on, and writes a
``data.yaml`` whose train split lists them (validation and evaluation still see every image).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from training.errors import ModelBuildError
from training.yolo.split import dataset_root, split_images

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSubset:
    data_yaml: Path  # the data.yaml to train on (the original when nothing was left out)
    with_boxes: int
    background_kept: int
    background_total: int

    def describe(self) -> str:
        kept = self.with_boxes + self.background_kept
        return (
            f"training on {kept} images: {self.with_boxes} with defects and {self.background_kept} of the "
            f"{self.background_total} without"
        )


def _has_boxes(label: Path | None) -> bool:
    return label is not None and any(len(line.split()) >= 5 for line in label.read_text().splitlines())


def limit_background(data_yaml: Path, out_dir: Path, share: float, *, seed: int = 0) -> TrainSubset:
    """Keep every train image with a box and at most ``share`` (0 <= share < 1) of background images.

    Nothing left out (few background images, or none with boxes): the original ``data_yaml``.
    """
    if not 0 <= share < 1:
        raise ModelBuildError(f"the background share must be in [0, 1), got {share}")
    images = split_images(Path(data_yaml), "train")
    boxed = [img for img, label in images if _has_boxes(label)]
    background = [img for img, label in images if not _has_boxes(label)]
    allowed = math.floor(share * len(boxed) / (1 - share))
    if not boxed or len(background) <= allowed:
        return TrainSubset(Path(data_yaml), len(boxed), len(background), len(background))
    kept = sorted(random.Random(seed).sample(background, allowed))
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "train-images.txt"
    listing.write_text("".join(f"{p.resolve()}\n" for p in boxed + kept))
    spec, root = dataset_root(Path(data_yaml))
    spec.update(path=str(root.resolve()), train=str(listing.resolve()))
    subset_yaml = out_dir / "data.yaml"
    subset_yaml.write_text(yaml.safe_dump(spec, sort_keys=False))
    subset = TrainSubset(subset_yaml, len(boxed), len(kept), len(background))
    logger.info("%s (at most %.0f %% background)", subset.describe(), share * 100)
    return subset
