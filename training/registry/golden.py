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


def export_training(
    store: DatasetStore, version: DatasetVersion, golden: DatasetVersion, out_dir: Path
) -> Path:
    """Export ``version`` without any golden image; if its val split ends up empty, validate on train."""
    data = store.export_yolo(version, out_dir)
    banned = golden_hashes(golden)
    _drop(out_dir, lambda h, split: h in banned)
    if not any((out_dir / "images" / "train").iterdir()):
        raise GateError(f"training version {version.name} has no images outside the golden set")
    if not any((out_dir / "images" / "val").iterdir()):
        cfg = yaml.safe_load(data.read_text())
        cfg["val"] = "images/train"
        data.write_text(yaml.safe_dump(cfg, sort_keys=False))
        logger.warning("%s: no validation images outside the golden set; validating on train", version.name)
    return data


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
