"""Ingest on the real broker: frames/outcomes/labels -> dataset store; commits; replay from 0 rebuilds it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from factoryloop.kafka import EventProducer
from factoryloop.schemas import ReviewAction
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.support import events as ev
from training.datasets import DatasetStore, Provenance
from training.ingest import Ingestor


def _jpeg(seed: int) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def _publish(settings: KafkaSettings, n: int) -> None:
    with EventProducer(settings) as producer:
        for i in range(n):
            jpeg = _jpeg(i)
            meta = ev.frame(jpeg, width=64, height=48, frame_id=f"f{i}", product="steel_plate")
            outcome = ev.outcome(
                frame_sha256=meta.jpeg_sha256, frame_id=f"f{i}", frame_width=64, frame_height=48
            )
            # Labels first for some items: the ingest must wait for the outcome and the frame.
            label = ev.label(
                outcome_event_id=outcome.event_id,
                frame_sha256=meta.jpeg_sha256,
                action=ReviewAction.CONFIRM if i % 2 else ReviewAction.REJECT,
                detections=(),
            )
            order = (
                [(TopicRole.LABELS, label), (TopicRole.OUTCOMES, outcome)]
                if i % 3 == 0
                else [(TopicRole.OUTCOMES, outcome), (TopicRole.LABELS, label)]
            )
            producer.send(TopicRole.FRAMES, meta, jpeg=jpeg)
            for role, event in order:
                producer.send(role, event)
        producer.flush(30)


def _snapshot(store: DatasetStore) -> dict[str, tuple[str, int]]:
    return {h: (ls.provenance.value, len(ls.boxes)) for h, ls in store.all_effective_labels().items()}


def test_ingest_commits_and_replays(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    _publish(kafka_settings, 8)
    with DatasetStore(tmp_path / "a") as store:
        with Ingestor(store, kafka_settings, group_id="ingest-a") as ing:
            ing.run(idle_exit_s=3.0)
            assert ing.stats.frames == 8 and ing.stats.labels == 8 and ing.stats.predictions == 8
            assert ing.state.pending_count() == {}
        first = _snapshot(store)
        assert len(first) == 8
        assert {p for p, _ in first.values()} == {Provenance.HUMAN.value}
        assert sorted(n for _, n in first.values()) == [0] * 4 + [1] * 4  # reject -> empty, confirm -> 1 box
        # Same group again: offsets were committed, nothing is re-read.
        with Ingestor(store, kafka_settings, group_id="ingest-a") as again:
            assert again.run(idle_exit_s=2.0).frames == 0
        # A new group over the same store: everything is re-read and recognised as already there.
        with Ingestor(store, kafka_settings, group_id="ingest-b") as dup:
            stats = dup.run(idle_exit_s=3.0)
            assert stats.duplicates == 16 and stats.labels == 0 and stats.predictions == 0
        history = sum(len(store.label_history(h)) for h in first)
        assert history == 16
    # Replay from offset 0 into an empty store rebuilds the same effective labels.
    with DatasetStore(tmp_path / "b") as fresh, Ingestor(fresh, kafka_settings, group_id="ingest-c") as ing:
        ing.run(idle_exit_s=3.0)
        assert _snapshot(fresh) == first
