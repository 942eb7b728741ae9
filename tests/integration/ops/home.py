"""A small real factoryloop home for the backup tests, what each part of it holds, and writers that keep
changing its SQLite databases while a backup runs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient

from api.app import create_app
from api.db.engine import Database
from api.db.migrate import upgrade
from api.frames.store import LocalFrameStore
from api.security import Role, create_token
from api.settings import ApiSettings
from api.sink.writer import SinkWriter
from factoryloop.schemas import FramePayload
from factoryloop.settings import KafkaSettings
from tests.support.events import detection, frame, outcome
from training.datasets import DatasetStore
from training.datasets.types import Box
from training.triggers.state import TrainerState

SEED_LINE = "line-seed"
LIVE_LINE = "line-live"
PRODUCT = "widget"


def jpeg(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    rng = np.random.default_rng(seed)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    assert ok
    return bytes(buf)


def api_settings(home: Path, database_url: str | None = None) -> ApiSettings:
    return ApiSettings(
        database_url=database_url or f"sqlite:///{home / 'api' / 'factoryloop.db'}",
        frames_dir=home / "api" / "frames",
        products_dir=home / "datasets" / "products",
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        mlflow_tracking_uri="http://127.0.0.1:1",
        environment="local",
        auto_migrate=False,
    )


def store_outcomes(settings: ApiSettings, line_id: str, seeds: range) -> list[str]:
    """Outcomes (each with its frame) written through the API's sink writer; their event ids."""
    db = Database(settings.database_url)
    writer = SinkWriter(db.engine, LocalFrameStore(settings.frames_dir))
    ids = []
    try:
        for i in seeds:
            data = jpeg(i)
            o = outcome(
                line_id=line_id,
                frame_sha256=hashlib.sha256(data).hexdigest(),
                detections=(detection(class_name="scratch"), detection(class_name="dent", confidence=0.7)),
                ts=datetime(2026, 5, 1, 8, tzinfo=UTC).replace(second=i % 60, minute=i // 60 % 60),
            )
            payload = FramePayload(meta=frame(data, outcome_event_id=o.event_id, line_id=line_id), jpeg=data)
            writer.write([o, payload])
            ids.append(o.event_id)
    finally:
        db.dispose()
    return ids


def seed_api(settings: ApiSettings) -> str:
    """Migrate the API database, store a few outcomes with frames; returns a supervisor token."""
    db = Database(settings.database_url)
    try:
        upgrade(db.engine)
        token = create_token(db, "backup-test", Role.SUPERVISOR, settings.token_pepper.get_secret_value())
    finally:
        db.dispose()
    store_outcomes(settings, SEED_LINE, range(12))
    return token


def api_view(settings: ApiSettings, token: str, line_id: str = SEED_LINE) -> dict[str, Any]:
    """What the API answers about ``line_id``: its inspections and the bytes of each frame."""
    with TestClient(create_app(settings, run_sink=False)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        resp = client.get("/api/v1/inspections", params={"line_id": line_id, "limit": 500}, headers=headers)
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        frames = {}
        for item in items:
            got = client.get(f"/api/v1/frames/{item['frame_sha256']}", headers=headers)
            assert got.status_code == 200, got.text
            frames[item["frame_sha256"]] = hashlib.sha256(got.content).hexdigest()
    return {"items": items, "frames": frames}


def seed_datasets(root: Path) -> str:
    """A product, six labelled images and a frozen version; returns the version's sha256."""
    with DatasetStore(root) as store:
        store.products.create(PRODUCT, ["scratch", "dent"], description="backup test")
        for i in range(6):
            h = store.add_image(jpeg(100 + i), source="seed", product=PRODUCT)
            boxes = [Box("scratch" if i % 2 else "dent", 5, 5, 30 + i, 40)] if i % 3 else []
            store.set_labels(h, boxes, provenance="human", source_ref=f"seed-{i}")
        return store.freeze_version("v1", sources=["seed"], class_map=store.products.get(PRODUCT)).sha256


def dataset_view(root: Path) -> dict[str, Any]:
    """Images, label histories, versions and products of the seeded source."""
    with DatasetStore(root) as store:
        images = store.images(source="seed")
        return {
            "images": images,
            "labels": {r.hash: store.label_history(r.hash) for r in images},
            "files": {
                r.hash: hashlib.sha256(store.image_path(r.hash).read_bytes()).hexdigest() for r in images
            },
            "versions": [(v.name, v.sha256, v.manifest) for v in store.list_versions()],
            "products": [p.model_dump(mode="json") for p in store.products.products()],
        }


def seed_trainer(state_dir: Path) -> datetime:
    at = datetime(2026, 5, 1, 6, tzinfo=UTC)
    state = TrainerState(state_dir / "trainer-state.sqlite")
    try:
        state.set_schedule_last(PRODUCT, at)
    finally:
        state.close()
    return at


@dataclass
class Live:
    """What the writers committed (in order) while they ran."""

    outcomes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


@contextmanager
def live_writers(home: Path, settings: ApiSettings) -> Iterator[Live]:
    """Threads that keep writing outcomes (API database + frames) and images (dataset store) until exit."""
    live, stop = Live(), threading.Event()

    def api_writer() -> None:
        i = 1000
        while not stop.is_set():
            live.outcomes += store_outcomes(settings, LIVE_LINE, range(i, i + 5))
            i += 5

    def dataset_writer() -> None:
        with DatasetStore(home / "datasets") as store:
            i = 5000
            while not stop.is_set():
                h = store.add_image(jpeg(i), source="live", product=PRODUCT)
                store.set_labels(h, [Box("dent", 1, 1, 20, 20)], provenance="human", source_ref=f"live-{i}")
                live.images.append(h)
                i += 1

    def guarded(fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:
                live.errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(f), daemon=True) for f in (api_writer, dataset_writer)]
    for t in threads:
        t.start()
    try:
        yield live
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not live.errors, live.errors
