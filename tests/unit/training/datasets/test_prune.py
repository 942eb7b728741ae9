"""``factoryloop dataset prune``: what a dataset version or a golden set uses is never pruned.

The proof: versions (a golden set among them) are frozen and exported, the store is pruned, then every version
is exported again and every file must be there and byte-identical. Around it: which images go and which stay
(table-driven by what an image has), a dry run that changes nothing and reports what the real run deletes, a
version frozen while the prune runs, and a version that names a pruned image being refused."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from factoryloop.cli.dataset import app
from training.datasets import Box, DatasetError, DatasetStore, DatasetVersion, Provenance
from training.datasets.prune import prune_images
from training.ingest.state import IngestState
from training.settings import get_settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86400.0
BOX = [Box("scratch", 10, 10, 40, 40)]

# name -> (age in days, how it is labelled, in a version?) ; what happens to it at 30 days' retention
CASES: dict[str, tuple[float, str | None, str | None, bool]] = {
    # name: (days, label provenance, version it is frozen into, stays)
    "golden_truth": (90, "human-review", "golden-widget", True),
    "versioned_prediction": (90, "prediction", "widget-preds", True),
    "human_unversioned": (90, "human-review", None, True),
    "pseudo": (90, "pseudo", None, True),
    "imported": (90, "import", None, True),
    "simulated": (90, "simulated", None, True),
    "pending_review": (90, "prediction", None, True),  # an ingest event is parked on it
    "prediction_old": (90, "prediction", None, False),
    "unlabelled_old": (90, None, None, False),
    "prediction_new": (5, "prediction", None, True),
    "late_version": (90, "prediction", None, True),  # frozen into a version while the prune runs
}


def jpeg(seed: int) -> bytes:
    img = np.full((48, 64, 3), seed * 9 % 256, dtype=np.uint8)
    img[seed % 40 : seed % 40 + 8, :, 1] = 255 - seed
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf)


def build(root: Path) -> tuple[DatasetStore, dict[str, str]]:
    store = DatasetStore(root)
    hashes: dict[str, str] = {}
    for seed, (name, (days, label, _, _)) in enumerate(CASES.items()):
        h = store.add_image(jpeg(seed), source=f"kafka:{name}", product="widget")
        hashes[name] = h
        if label == "human-review":
            store.add_review(
                h,
                BOX,
                provenance=Provenance.HUMAN,
                source_ref=f"label:{name}",
                action="correct",
                product="widget",
            )
        elif label is not None:
            store.set_labels(h, BOX, provenance=label, source_ref=f"outcome:{name}")
        store._db.execute("UPDATE images SET added_at = ? WHERE hash = ?", (NOW.timestamp() - days * DAY, h))
    store.freeze_version("golden-widget", sources=["kafka:golden_truth"], test_fraction=0.5)
    store.freeze_version("widget-preds", sources=["kafka:versioned_prediction"], provenances=["prediction"])
    truth = ["human", "simulated", "import"]  # what a retrain freezes (training.pipeline)
    store.freeze_version("widget-truth", products=["widget"], provenances=truth)
    state = IngestState(root / "ingest-state.sqlite")  # where the ingest keeps it: beside the store
    state.park("ev-1", "label", hashes["pending_review"], NOW.isoformat(), "{}", "outcome:o-1")
    state.close()
    # "late_version" is frozen after the prune's first batch: of the two look-alikes it is the one the walk
    # (in hash order) reaches last, so the first batch cannot have taken it
    if hashes["late_version"] < hashes["prediction_old"]:
        hashes["late_version"], hashes["prediction_old"] = hashes["prediction_old"], hashes["late_version"]
        for name in ("late_version", "prediction_old"):
            store._db.execute("UPDATE images SET source = ? WHERE hash = ?", (f"kafka:{name}", hashes[name]))
    return store, hashes


def size(store: DatasetStore, hashes: dict[str, str], names: set[str]) -> int:
    return sum(store.image_path(hashes[n]).stat().st_size for n in names)


def snapshot(store: DatasetStore, out: Path) -> dict[str, bytes]:
    """Every version exported: relative path -> bytes (data.yaml without its absolute path)."""
    files: dict[str, bytes] = {}
    for v in store.list_versions():
        data = store.export_yolo(v, out / v.name)
        for path in sorted((out / v.name).rglob("*")):
            if path.is_file() and path != data:
                files[f"{v.name}/{path.relative_to(out / v.name)}"] = path.read_bytes()
        files[f"{v.name}/data.yaml"] = data.read_text().replace(str(out), "OUT").encode()
    return files


def late_freezer(store: DatasetStore, hashes: dict[str, str]) -> Callable[[int, int], None]:
    """After the prune's first batch, freeze a version of an image the walk has not reached yet."""

    def freeze(done: int, total: int) -> None:
        if done == 1:
            store.freeze_version("late", sources=["kafka:late_version"], provenances=["prediction"])

    return freeze


def test_pruning_keeps_every_version_byte_identical(tmp_path: Path) -> None:
    store, hashes = build(tmp_path / "store")
    gone = {n for n, case in CASES.items() if not case[3]}
    gone_bytes, late_bytes = size(store, hashes, gone), size(store, hashes, {"late_version"})
    before = snapshot(store, tmp_path / "before")
    rows_before = store._query("SELECT COUNT(*) FROM images")[0][0]

    dry = prune_images(store, 30, dry_run=True, now=NOW, batch_size=1)
    assert store._query("SELECT COUNT(*) FROM images")[0][0] == rows_before
    assert all(store.image_path(h).is_file() for h in hashes.values())

    real = prune_images(store, 30, dry_run=False, now=NOW, batch_size=1, progress=late_freezer(store, hashes))
    assert "late" in {v.name for v in store.list_versions()}
    assert (real.rows, real.bytes) == (len(gone), gone_bytes)
    assert (dry.rows, dry.bytes) == (real.rows + 1, real.bytes + late_bytes)  # not frozen yet when dry
    for name, h in hashes.items():
        assert store.image_path(h).is_file() == (name not in gone), name
        assert bool(store._query("SELECT 1 FROM images WHERE hash = ?", (h,))) == (name not in gone), name
        assert bool(store._query("SELECT 1 FROM labels WHERE image_hash = ?", (h,))) == (
            name not in gone and CASES[name][1] is not None
        ), name
    assert real.kept == sum(1 for c in CASES.values() if c[0] > 30) - len(gone)

    after = snapshot(store, tmp_path / "after")
    assert {k: v for k, v in after.items() if not k.startswith("late/")} == before
    for v in store.list_versions():  # and the store's own files are the images the manifests name
        for img in v.images:
            assert hashlib.sha256(store.image_path(img["hash"]).read_bytes()).hexdigest() == img["hash"]

    again = prune_images(store, 30, dry_run=False, now=NOW)
    assert again.rows == 0 and again.kept == real.kept


@pytest.mark.parametrize(("days", "rows"), [(0, 0), (None, 0), (200, 0), (30, 3), (1, 4)])
def test_retention_days(tmp_path: Path, days: int | None, rows: int) -> None:
    store, _ = build(tmp_path / "store")
    figures = prune_images(store, days, dry_run=True, now=NOW)
    assert figures.rows == rows and (figures.days is None) == (not days)


def test_a_version_naming_a_pruned_image_is_refused(tmp_path: Path) -> None:
    store, hashes = build(tmp_path / "store")
    prune_images(store, 30, dry_run=False, now=NOW)
    manifest = {"format": 1, "class_names": ["scratch"], "images": [{"hash": hashes["prediction_old"]}]}
    with pytest.raises(DatasetError, match="pruned while it was frozen"):
        store._save_version(DatasetVersion("stale", "0" * 64, time.time(), manifest))


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    build(root)[0].close()
    monkeypatch.setenv("FACTORYLOOP_TRAIN_RETENTION_IMAGES_DAYS", "30")
    get_settings.cache_clear()
    try:
        dry = CliRunner().invoke(app, ["prune", "--dry-run", "--root", str(root)])
        assert dry.exit_code == 0, dry.output
        assert "to delete" in dry.output and "dry run: nothing changed" in dry.output
        real = CliRunner().invoke(app, ["prune", "--root", str(root)])
        # the images are dated before NOW, which is in the past: all four unneeded ones are old today
        assert real.exit_code == 0 and "deleted 4 records" in real.output, real.output
    finally:
        get_settings.cache_clear()
