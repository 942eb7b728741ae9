"""Golden sets: one per product, frozen once from reviewed/ground-truth labels, never trained on.

Membership: the images an imported dataset put in its own val/test split, and for the others the image hash
(``split_of(hash, fraction) == "val"``). The same rule puts these images in the ``val`` split of every
training version, and :func:`export_training` removes them entirely. Class ids are the product's class map
(``factoryloop.products``); a golden set frozen before classes were added is exported with the grown map
(ids are append-only).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from factoryloop.products import Product
from training.datasets import DatasetError, DatasetStore, DatasetVersion, Provenance, VersionNotFoundError
from training.errors import GateError

logger = logging.getLogger(__name__)

TRUTH = (Provenance.HUMAN, Provenance.SIMULATED, Provenance.IMPORT)


def golden_name(product: str) -> str:
    return f"golden-{product}"


def golden_hashes(version: DatasetVersion) -> set[str]:
    return {img["hash"] for img in version.images if img["split"] == "val"}


def ensure_golden(store: DatasetStore, product: Product, fraction: float) -> DatasetVersion:
    """The product's golden version; frozen now from the truth-labelled images if it does not exist yet."""
    try:
        return store.get_version(golden_name(product.name))
    except VersionNotFoundError:
        pass
    try:
        version = store.freeze_version(
            golden_name(product.name),
            products=[product.name],
            provenances=TRUTH,
            class_map=product,
            test_fraction=fraction,
        )
    except DatasetError as exc:
        raise GateError(f"cannot freeze the golden set of {product.name}: {exc}") from exc
    if not golden_hashes(version):
        raise GateError(
            f"golden set of {product.name} is empty: label more images (fraction {fraction}) or import a "
            "dataset with its own val split"
        )
    logger.info("froze golden set %s: %d images", version.name, len(golden_hashes(version)))
    return version


def export_golden(
    store: DatasetStore,
    version: DatasetVersion,
    out_dir: Path,
    *,
    class_names: Sequence[str] | None = None,
) -> Path:
    """A YOLO folder whose ``val`` split is exactly the golden images; returns its data.yaml.

    ``class_names``: the product's current class map (default the version's own)."""
    data = store.export_yolo(version, out_dir, class_names=class_names)
    keep = golden_hashes(version)
    _drop(out_dir, lambda h, split: split != "val" or h not in keep)
    cfg = yaml.safe_load(data.read_text())
    cfg["train"] = "images/val"  # Ultralytics wants a train entry even for validation only
    data.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return data


VALIDATION_TAG = "validation"  # registered-version tag: which images the training's own mAP was measured on
MIN_TRAIN_FOR_SLICE = 10  # below this many train images, a validation slice would starve the training


def export_training(
    store: DatasetStore, version: DatasetVersion, golden: DatasetVersion, out_dir: Path
) -> tuple[Path, str]:
    """Export ``version`` without any golden image; returns the data.yaml and which images the training
    validates on (the number its metrics are measured on: kept as the version's ``validation`` tag).

    When no validation image is left outside the golden set (a first import with no split of its own: every
    held-out image is golden, which training never sees), ~10 % of the train images (by hash, so the same
    images in every export of the version) are moved to val: the training's mAP is then a held-out score,
    not a train score. With fewer than 10 train images it validates on train, and says so.
    """
    data = store.export_yolo(version, out_dir)
    banned = golden_hashes(golden)
    _drop(out_dir, lambda h, split: h in banned)
    train = sorted((out_dir / "images" / "train").glob("*.jpg"))
    if not train:
        raise GateError(f"training version {version.name} has no images outside the golden set")
    val = list((out_dir / "images" / "val").glob("*.jpg"))
    if val:
        return data, f"val split: {len(val)} held-out images"
    if len(train) < MIN_TRAIN_FOR_SLICE:
        cfg = yaml.safe_load(data.read_text())
        cfg["val"] = "images/train"
        data.write_text(yaml.safe_dump(cfg, sort_keys=False))
        logger.warning("%s: no validation images outside the golden set; validating on train", version.name)
        return data, f"train: {len(train)} images (too few to hold any out); a train score"
    carved = _carve(out_dir, train)
    logger.info("%s: %d of %d train images held out for validation", version.name, carved, len(train))
    return data, f"{carved} images held out of train (no val images outside the golden set)"


def _carve(root: Path, train: list[Path], every: int = 10) -> int:
    """Move one train image in ``every`` (by hash order) to val, with its label; returns how many."""
    chosen = [img for img in train if int(img.stem[:8], 16) % every == 0] or train[::every][:1]
    want = max(1, len(train) // every)
    chosen = (chosen + [i for i in train if i not in chosen])[:want]
    for sub in ("images", "labels"):
        (root / sub / "val").mkdir(parents=True, exist_ok=True)
    for img in chosen:
        img.rename(root / "images" / "val" / img.name)
        label = root / "labels" / "train" / f"{img.stem}.txt"
        if label.exists():
            label.rename(root / "labels" / "val" / label.name)
    return len(chosen)


def export_recent(
    store: DatasetStore,
    version: DatasetVersion,
    golden: DatasetVersion,
    out_dir: Path,
    *,
    min_images: int = 4,
) -> Path | None:
    """A YOLO folder whose ``val`` split is the held-out images of ``version`` that are not golden.

    These are reviewed images newer than the golden set and never trained on (the hash split keeps them in
    ``val`` in every version). None when there are fewer than ``min_images``: too few to judge on.
    """
    data = store.export_yolo(version, out_dir)
    # Judge on truth only: golden images are banned, and so are pseudo labels (a model's own guesses).
    banned = golden_hashes(golden) | {
        i["hash"] for i in version.images if i["provenance"] not in {p.value for p in TRUTH}
    }
    _drop(out_dir, lambda h, split: split != "val" or h in banned)
    count = sum(1 for _ in (out_dir / "images" / "val").glob("*.jpg"))
    if count < min_images:
        logger.info("%s: %d recent held-out images, too few for the gate", version.name, count)
        return None
    cfg = yaml.safe_load(data.read_text())
    cfg["train"] = "images/val"  # Ultralytics wants a train entry even for validation only
    data.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return data


def _drop(root: Path, unwanted: Callable[[str, str], bool]) -> None:
    for split in ("train", "val"):
        for img in list((root / "images" / split).glob("*.jpg")):
            if unwanted(img.stem, split):
                img.unlink()
                (root / "labels" / split / f"{img.stem}.txt").unlink(missing_ok=True)
    shutil.rmtree(root / "labels" / "cache", ignore_errors=True)
