"""The sink loop: poll a batch, write it in one transaction, then commit the offsets.

A failed write is retried from the last committed offsets (the consumer seeks back), so nothing is skipped;
events are deduplicated on ``event_id`` so a replay stores nothing twice. A consumer that polls nothing while
its partitions have records (kafka-python after a partition leader's restart, ``factoryloop.kafka.stall``) is
closed and opened again in the same group, between batches: it resumes from the committed offsets.

With ``pipeline=True`` batch n+1 is fetched and decoded while batch n is written (one writer thread); the
offsets of batch n (the positions right after its poll) are committed only once its transaction committed,
and a failed write also drops the prefetched batch. It is off by default: on the 2-core benchmark machine it
was slower than the serial loop (both stages are CPU-bound Python and share the GIL; see docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from kafka.errors import KafkaError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from api import metrics
from api.errors import ApiError
from api.frames.store import FrameStore
from api.sink.writer import SinkWriter, WriteResult
from factoryloop.kafka import TypedConsumer
from factoryloop.kafka.consumer import Received
from factoryloop.kafka.lag import lag_by_role
from factoryloop.kafka.stall import StallCheck
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)
_TOPIC = attrgetter("topic")  # events counted by topic in C (an enum's .value or hash is Python code)
_EVENT = attrgetter("event")

SINK_ROLES = (
    TopicRole.OUTCOMES,
    TopicRole.FRAMES,
    TopicRole.HEARTBEATS,
    TopicRole.DEPLOYMENTS,
    TopicRole.LABELS,
    TopicRole.ROLLOUTS,
)


@dataclass
class SinkStats:
    batches: int = 0
    events: int = 0
    inserted: int = 0
    failures: int = 0
    reopens: int = 0  # consumers opened again after a stall


@dataclass
class _InFlight:
    """A batch being written: its events, the consumer positions right after its poll, when it started."""

    future: Future[WriteResult]
    received: list[Received]
    positions: dict[Any, Any]
    started: float


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
        pipeline: bool = False,
        bootstrap_timeout_s: float | None = None,
        stall_check_s: float = 30.0,
    ) -> None:
        self.writer = SinkWriter(engine, frames)
        self.pipeline = pipeline
        overrides: dict[str, Any] = {}
        if bootstrap_timeout_s is not None:
            overrides["bootstrap_timeout_ms"] = int(bootstrap_timeout_s * 1000)
        self._open = lambda: TypedConsumer(
            kafka, SINK_ROLES, group_id, max_poll_records=batch_size, **overrides
        )
        self.consumer = self._open()
        self._stall = StallCheck(stall_check_s)
        self.batch_size = batch_size
        self.poll_timeout_ms = poll_timeout_ms
        self.retry_delay_s = retry_delay_s
        self.stats = SinkStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self) -> tuple[list[Received], int, dict[Any, Any]]:
        """A batch, how many records of it were dead-lettered, and the positions to commit for it."""
        dead_before = self.consumer.dead_lettered
        received = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.batch_size)
        for role, lag in lag_by_role(self.consumer).items():
            metrics.SINK_LAG.labels(role).set(lag)
        dead = self.consumer.dead_lettered - dead_before
        if dead:
            metrics.SINK_DEAD_LETTERS.inc(dead)
        # What commit() would commit now: everything returned by this poll (dead letters included).
        positions = self.consumer.consumed_offsets()
        return received, dead, positions

    def _commit(self, positions: dict[Any, Any]) -> None:
        if not positions:
            return
        try:
            self.consumer.commit_offsets(positions)
        except (
            KafkaError
        ) as exc:  # e.g. a rebalance took the partitions: the new owner replays (deduplicated)
            logger.warning("offset commit failed (%r); the batch will be replayed and deduplicated", exc)

    def _finish(self, batch: _InFlight) -> bool:
        """Wait for a batch's transaction; commit its offsets, or rewind on failure (returns False)."""
        try:
            result = batch.future.result()
        except (SQLAlchemyError, ApiError, OSError):
            self.stats.failures += 1
            metrics.SINK_ERRORS.inc()
            logger.exception(
                "sink batch of %d events failed; rewinding to committed offsets", len(batch.received)
            )
            self._rewind()
            self._stop.wait(self.retry_delay_s)
            return False
        self._commit(batch.positions)
        metrics.SINK_BATCH_SECONDS.observe(time.perf_counter() - batch.started)
        for topic, n in Counter(map(_TOPIC, batch.received)).items():  # a labelled inc per event cost ~3 us
            metrics.SINK_EVENTS.labels(self.consumer.topics.role_of(topic).value).inc(n)
        metrics.SINK_INSERTED.inc(result.inserted)
        metrics.SINK_LAST_BATCH.set_to_current_time()
        self.stats.batches += 1
        self.stats.events += len(batch.received)
        self.stats.inserted += result.inserted
        return True

    def _submit(
        self, pool: ThreadPoolExecutor, received: list[Received], positions: dict[Any, Any]
    ) -> _InFlight:
        future = pool.submit(self.writer.write, list(map(_EVENT, received)))
        return _InFlight(future, received, positions, time.perf_counter())

    def _reopen_if_stalled(self) -> None:
        """Called after an empty poll with no batch in flight (a sink whose writes fail polls records)."""
        if not self._stall.stalled(self.consumer.raw):
            return
        self.consumer.close()
        self.consumer = self._open()
        self._stall = StallCheck(self._stall.every_s)  # the new consumer gets two checks of its own
        self.stats.reopens += 1
        metrics.SINK_REOPENS.inc()

    def run_once(self) -> int:
        """One serial poll-write-commit cycle; returns the number of events written."""
        received, dead, positions = self._poll()
        if not received:
            if dead:
                self._commit(positions)
            else:
                self._reopen_if_stalled()
            return 0
        done: Future[WriteResult] = Future()
        started = time.perf_counter()
        try:
            done.set_result(self.writer.write(list(map(_EVENT, received))))
        except Exception as exc:  # handed to _finish, which handles (or re-raises) it like a pipelined write
            done.set_exception(exc)
        batch = _InFlight(done, received, positions, started)
        return len(received) if self._finish(batch) else 0

    def _step(self, pool: ThreadPoolExecutor, pending: _InFlight | None) -> _InFlight | None:
        """Poll the next batch while ``pending`` is written, then finish ``pending`` and submit the next."""
        received, dead, positions = self._poll()
        if pending is not None and not self._finish(pending):
            return None  # rewound: ``received`` will be fetched again
        if received:
            return self._submit(pool, received, positions)
        if dead:
            self._commit(positions)
        elif pending is None:
            self._reopen_if_stalled()
        return None

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
            if self.pipeline:
                self._run_pipelined()
            else:
                while not self._stop.is_set():
                    self.run_once()
        finally:
            metrics.SINK_RUNNING.set(0)
            self.consumer.close()

    def _run_pipelined(self) -> None:
        pending: _InFlight | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="api-sink-write") as pool:
            while not self._stop.is_set():
                pending = self._step(pool, pending)
            if pending is not None:
                self._finish(pending)

    def start(self) -> threading.Thread:
        """Run in a daemon thread (used by ``serve``)."""
        self._thread = threading.Thread(target=self.run, name="api-sink", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
