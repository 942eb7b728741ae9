"""The ingest consumer group: frames, outcomes and labels from Kafka into the dataset store.

Offsets are committed only after every event of the polled batch is written (SQLite commits, WAL) to the
store and the ingest state: at-least-once delivery, made idempotent by the event ids in ``source_ref``.
Replaying the topics from offset 0 into an empty store rebuilds the same effective labels.

``on_batch`` (the trainer service's triggers) is given each batch's events once they are written and their
offsets committed: whoever it tells has the store's word that those events are in it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from factoryloop.kafka import TypedConsumer
from factoryloop.kafka.lag import lag_by_role
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.datasets import DatasetStore
from training.errors import IngestError
from training.ingest.apply import Applier, IngestStats
from training.ingest.state import IngestState

logger = logging.getLogger(__name__)

DEFAULT_GROUP = "factoryloop-ingest"
BatchListener = Callable[[Sequence[object]], None]
ROLES = (TopicRole.FRAMES, TopicRole.OUTCOMES, TopicRole.LABELS)


def state_path_for(store: DatasetStore) -> Path:
    """The ingest bookkeeping lives beside the store it feeds, so a fresh store means a fresh replay."""
    return store.root / "ingest-state.sqlite"


class Ingestor:
    def __init__(
        self,
        store: DatasetStore,
        kafka: KafkaSettings,
        *,
        group_id: str = DEFAULT_GROUP,
        state_path: Path | None = None,
        max_poll_records: int = 200,
        pseudo_min_confidence: float | None = None,
        on_batch: BatchListener | None = None,
    ) -> None:
        self.store = store
        self.on_batch = on_batch
        self.state = IngestState(state_path or state_path_for(store))
        self.applier = Applier(store, self.state, pseudo_min_confidence=pseudo_min_confidence)
        self.consumer = TypedConsumer(kafka, ROLES, group_id, max_poll_records=max_poll_records)
        # For /metrics (training.ingest.metrics), updated by the consuming thread after each poll.
        self.consumed: dict[str, int] = {role.value: 0 for role in ROLES}
        self.lag: dict[str, int] = {role.value: 0 for role in ROLES}
        self.batches = 0
        self.last_batch_at: float | None = None  # time.time() of the last batch stored

    @property
    def stats(self) -> IngestStats:
        return self.applier.stats

    def poll_once(self, timeout_ms: int = 1000) -> int:
        """Poll one batch, apply it, commit its offsets; return the number of records handled."""
        batch = self.consumer.poll(timeout_ms=timeout_ms)
        self.lag = lag_by_role(self.consumer)
        for rec in batch:
            try:
                self.applier.apply(rec.event)
            except Exception as exc:
                # Do not commit: the batch is re-delivered after a restart (writes are idempotent).
                raise IngestError(
                    f"ingest of {rec.topic}[{rec.partition}]@{rec.offset} failed: {exc}"
                ) from exc
        if batch:
            self.consumer.commit()
            for rec in batch:
                self.consumed[rec.role.value] += 1
            self.batches += 1
            self.last_batch_at = time.time()
            if self.on_batch is not None:
                self.on_batch([rec.event for rec in batch])
        return len(batch)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        idle_exit_s: float | None = None,
        timeout_ms: int = 1000,
    ) -> IngestStats:
        """Consume until ``stop`` is set, or (with ``idle_exit_s``) until nothing arrived for that long."""
        last = time.monotonic()
        while stop is None or not stop.is_set():
            if self.poll_once(timeout_ms):
                last = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - last >= idle_exit_s:
                break
        logger.info("ingest stopped: %s, pending %s", self.stats, self.state.pending_count())
        return self.stats

    def close(self) -> None:
        self.consumer.close()
        self.state.close()

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
