"""A home backed up while its API database and dataset store are being written and MLflow serves, restored
into an empty home: the API answers with the same rows and frames, the dataset store holds the same images,
labels, products and versions (a frozen version's sha256 matches, and freezing it again gives the same),
the trainer's state is there, and MLflow started on the restored backend store serves the same registered
version, tags, alias and artifact. Rows written during the backup are a consistent prefix (no torn
transaction) and each one finds its file."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from api.db.engine import Database
from factoryloop.backup import create_backup, discover, restore_backup
from tests.integration.ops.home import (
    LIVE_LINE,
    PRODUCT,
    Live,
    api_settings,
    api_view,
    dataset_view,
    live_writers,
    seed_api,
    seed_datasets,
    seed_trainer,
)
from tests.integration.ops.mlflow_home import mlflow_on, mlflow_view, seed_mlflow
from training.datasets import DatasetStore
from training.triggers.state import TrainerState

pytestmark = pytest.mark.mlflow


def _wait_for_writes(live: Live, n: int = 10, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (len(live.outcomes) < n or len(live.images) < n) and time.monotonic() < deadline:
        assert not live.errors, live.errors
        time.sleep(0.05)
    assert len(live.outcomes) >= n and len(live.images) >= n, "the writers did not get going"


def _is_prefix(restored: list[str], committed: list[str]) -> bool:
    return restored == committed[: len(restored)]


def test_restore_of_a_backup_taken_while_writing_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = api_settings(home)
    token = seed_api(settings)
    version_sha = seed_datasets(home / "datasets")
    schedule_at = seed_trainer(home / "training")
    with mlflow_on(home) as uri:
        seed_mlflow(uri, tmp_path)
        mlflow_before = mlflow_view(uri, tmp_path / "download-before")
        api_before = api_view(settings, token)
        data_before = dataset_view(home / "datasets")
        sources = discover(home)
        assert sources.api_db_url == settings.database_url
        assert sources.mlflow_backend_uri == f"sqlite:///{home / 'stack' / 'mlflow' / 'mlflow.db'}"
        with live_writers(home, settings) as live:
            _wait_for_writes(live)
            out, manifest = create_backup(tmp_path / "backup.tar.gz", sources)
            written_during = (len(live.outcomes), len(live.images))
            _wait_for_writes(live, max(written_during) + 5)  # and they go on after it
    assert [c.name for c in manifest.components if c.skipped] == []
    assert manifest.component("api-db").details["schema_revision"]  # type: ignore[union-attr]

    restored = tmp_path / "restored"
    restore_backup(out, restored)

    # API: an app on the restored database answers with the same rows and frames (and the same token).
    r_settings = api_settings(restored)
    assert api_view(r_settings, token) == api_before
    live_view = api_view(r_settings, token, LIVE_LINE)  # every restored row's frame is served
    db = Database(r_settings.database_url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT event_id FROM inspections WHERE line_id = :l ORDER BY id"), {"l": LIVE_LINE}
            )
            live_ids = [r[0] for r in rows]
    finally:
        db.dispose()
    assert live_ids and _is_prefix(live_ids, live.outcomes), "the API snapshot is not a committed prefix"
    assert len(live_view["items"]) == len(live_ids)

    # Dataset store: same images, labels, versions, products; the frozen version reproduces.
    assert dataset_view(restored / "datasets") == data_before
    with DatasetStore(restored / "datasets") as store:
        assert store.get_version("v1").sha256 == version_sha
        again = store.freeze_version("v1-again", sources=["seed"], class_map=store.products.get(PRODUCT))
        assert again.sha256 == version_sha
        live_images = [
            r.hash for r in sorted(store.images(source="live"), key=lambda r: live.images.index(r.hash))
        ]
        assert live_images and _is_prefix(live_images, live.images)
        for h in live_images:
            assert hashlib.sha256(store.image_path(h).read_bytes()).hexdigest() == h
        data_yaml = store.export_yolo("v1", tmp_path / "export")
        assert data_yaml.is_file() and len(list((tmp_path / "export").rglob("*.jpg"))) == 6

    # Trainer state.
    state = TrainerState(restored / "training" / "trainer-state.sqlite")
    try:
        assert state.schedule_last(PRODUCT) == schedule_at
    finally:
        state.close()

    # MLflow on the restored backend store and artifacts: the same registered version, tags and artifact.
    with mlflow_on(restored) as uri:
        assert mlflow_view(uri, tmp_path / "download-after") == mlflow_before
