"""The ingest's drop reasons (IngestStats.dropped, factoryloop_ingest_dropped_total) from a real Applier on a
real dataset store, and the collector's families without an ingestor."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from factoryloop.schemas import FramePayload
from tests.support import events as ev
from training.datasets import DatasetStore
from training.ingest import Applier, IngestState
from training.ingest.metrics import DROP_REASONS, IngestCollector


@pytest.fixture
def applier(tmp_path: Path) -> Applier:
    return Applier(DatasetStore(tmp_path / "store"), IngestState(tmp_path / "store" / "ingest-state.sqlite"))


def _frame(seed: int) -> FramePayload:
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    return FramePayload(ev.frame(jpeg, width=64, height=48, product="steel_plate"), jpeg)


def test_every_drop_has_its_reason(applier: Applier) -> None:
    frame = _frame(1)
    applier.apply(frame)
    outcome = ev.outcome(frame_sha256=frame.meta.jpeg_sha256, frame_width=64, frame_height=48)
    applier.apply(outcome)
    applier.apply(outcome)  # replayed: a duplicate
    applier.apply(ev.outcome(shadow=True, frame_sha256=frame.meta.jpeg_sha256))  # a shadow model's guess
    applier.apply(ev.outcome(frame_sent=False))  # a PASS the agent did not sample: nothing to label
    applier.apply("not an event")
    stats = applier.stats
    assert stats.dropped == {"duplicate": 1, "shadow": 1, "frame_not_sent": 1, "unknown_event": 1}
    assert (stats.duplicates, stats.skipped, stats.frames, stats.predictions) == (1, 3, 1, 1)


def test_the_collector_names_its_families_without_an_ingestor() -> None:
    described = {f.name: f for f in IngestCollector(None).describe()}
    assert set(described) == {
        "factoryloop_ingest_consumed",
        "factoryloop_ingest_stored",
        "factoryloop_ingest_dropped",
        "factoryloop_ingest_parked",
        "factoryloop_ingest_batches",
        "factoryloop_ingest_lag_records",
        "factoryloop_ingest_last_batch_timestamp_seconds",
    }
    assert all(not f.samples for f in described.values())
    assert "dead_letter" in DROP_REASONS and "duplicate" in DROP_REASONS
