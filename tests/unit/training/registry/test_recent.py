"""The gate's recent set: held-out, non-golden images with truth labels only (never pseudo labels)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.datasets import Box, DatasetStore, Provenance
from training.registry import ensure_golden, export_recent
from training.registry.golden import TRUTH


def _add(store: DatasetStore, seed: int, provenance: Provenance) -> str:
    img = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    digest = store.add_image(cv2.imencode(".jpg", img)[1].tobytes(), source="t", product="p")
    store.set_labels(digest, [Box("dent", 2, 2, 20, 20)], provenance=provenance, source_ref=f"r{seed}")
    return digest


def test_recent_set_has_no_golden_and_no_pseudo_images(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "s")
    for seed in range(40):
        _add(store, seed, Provenance.SIMULATED)
    golden = ensure_golden(store, store.products.create("p", ["dent"]), 0.25)
    later = {
        seed: _add(store, seed, Provenance.HUMAN if seed % 2 else Provenance.PSEUDO)
        for seed in range(40, 120)
    }
    version = store.freeze_version(
        "v", products=["p"], provenances=(*TRUTH, Provenance.PSEUDO), class_names=["dent"], test_fraction=0.25
    )
    data = export_recent(store, version, golden, tmp_path / "recent")
    assert data is not None
    kept = {p.stem for p in (tmp_path / "recent" / "images" / "val").glob("*.jpg")}
    held = {i["hash"] for i in version.images if i["split"] == "val"}
    golden_set = {i["hash"] for i in golden.images if i["split"] == "val"}
    human = {h for s, h in later.items() if s % 2}
    assert kept and kept == (held - golden_set) & human
    assert not any((tmp_path / "recent" / "images" / "train").glob("*.jpg"))
