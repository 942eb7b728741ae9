"""The sink loop: poll a batch, write it in one transaction, then commit the offsets.

A failed write is retried from the last committed offsets (the consumer seeks back), so nothing is skipped;
events are deduplicated on ``event_id`` so a replay stores nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from api import metrics
from api.errors import ApiError
from api.frames.store import FrameStore
from api.sink.writer import SinkWriter
from factoryloop.kafka import TypedConsumer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)

SINK_ROLES = (
    TopicRole.OUTCOMES,
    TopicRole.FRAMES,
    TopicRole.HEARTBEATS,
    TopicRole.DEPLOYMENTS,
    TopicRole.LABELS,
)


@dataclass
class SinkStats:
    batches: int = 0
    events: int = 0
    inserted: int = 0
    failures: int = 0


class Sink:
    def __init__(
        self,
        kafka: KafkaSettings,
        engine: Engine,
        frames: FrameStore,
        *,
        group_id: str = "factoryloop-api-sink",
        batch_size: int = 2000,
        poll_timeout_ms: int = 200,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.writer = SinkWriter(engine, frames)
        self.consumer = TypedConsumer(kafka, SINK_ROLES, group_id, max_poll_records=batch_size)
        self.batch_size = batch_size
        self.poll_timeout_ms = poll_timeout_ms
        self.retry_delay_s = retry_delay_s
        self.stats = SinkStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One poll-write-commit cycle; returns the number of events written."""
        dead_before = self.consumer.dead_lettered
        received = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.batch_size)
        dead = self.consumer.dead_lettered - dead_before
        if dead:
            metrics.SINK_DEAD_LETTERS.inc(dead)
        if not received:
            if dead:
                self.consumer.commit()
            return 0
        started = time.perf_counter()
        try:
            result = self.writer.write(r.event for r in received)
        except (SQLAlchemyError, ApiError, OSError):
            self.stats.failures += 1
            metrics.SINK_ERRORS.inc()
            logger.exception("sink batch of %d events failed; rewinding to committed offsets", len(received))
            self._rewind()
            self._stop.wait(self.retry_delay_s)
            return 0
        self.consumer.commit()
        metrics.SINK_BATCH_SECONDS.observe(time.perf_counter() - started)
        for r in received:
            metrics.SINK_EVENTS.labels(r.role.value).inc()
        metrics.SINK_INSERTED.inc(result.inserted)
        self.stats.batches += 1
        self.stats.events += len(received)
        self.stats.inserted += result.inserted
        return len(received)

    def _rewind(self) -> None:
        raw = self.consumer.raw
        for tp in raw.assignment():
            committed = raw.committed(tp)
            if committed is None:
                raw.seek_to_beginning(tp)
            else:
                raw.seek(tp, committed)

    def run(self) -> None:
        """Loop until :meth:`stop`."""
        metrics.SINK_RUNNING.set(1)
        logger.info("sink consuming %s as group %s", [r.value for r in SINK_ROLES], self.consumer.group_id)
        try:
            while not self._stop.is_set():
                self.run_once()
        finally:
            metrics.SINK_RUNNING.set(0)
            self.consumer.close()

    def start(self) -> threading.Thread:
        """Run in a daemon thread (used by ``serve``)."""
        self._thread = threading.Thread(target=self.run, name="api-sink", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
