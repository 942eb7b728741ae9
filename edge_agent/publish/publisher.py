"""Publishes events to Kafka through :class:`EventProducer` (acks=all, idempotent), store-and-forward.

Live records go straight to the producer. A record that cannot be enqueued or whose delivery fails goes to
the disk buffer, and from then on new records are appended to the buffer too (keeping their order) while a
drainer thread sends what is buffered, oldest first, deleting each record only after its acknowledgement.
Once what is left fits in one batch, the drainer hands over: under ``_switch`` (which a record on its way
to the buffer also takes) it gives the rest to the producer and turns direct sending back on, so every
live record that follows is enqueued after the buffered ones (one idempotent producer: their order per
partition is kept) without waiting for the buffer to be empty, which steady production rarely allows. The
handed-over records leave the buffer when acknowledged; a failure puts the publisher back to buffering
and they are sent again (a duplicate only where Kafka wrote a record whose acknowledgement was lost, as
before). The inspection thread never waits on Kafka.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kafka.errors import KafkaError
from pydantic import BaseModel

from edge_agent.publish.buffer import Buffered, DiskBuffer, OutRecord
from edge_agent.stats import AgentStats
from factoryloop.errors import DeliveryError, KafkaUnavailableError
from factoryloop.kafka import EventProducer
from factoryloop.kafka.producer import schema_headers
from factoryloop.schemas import FrameMeta, encode, encode_frame
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


def make_record(
    settings: KafkaSettings, role: TopicRole, event: BaseModel, priority: int, jpeg: bytes | None = None
) -> OutRecord:
    value = encode_frame(event, jpeg or b"") if isinstance(event, FrameMeta) else encode(event)
    key = getattr(event, "station_key", None)
    return OutRecord(
        settings.topics[role], key.encode() if key else None, value, tuple(schema_headers(event)), priority
    )


class Publisher:
    def __init__(
        self,
        settings: KafkaSettings,
        buffer: DiskBuffer,
        stats: AgentStats,
        delivery_timeout_s: float = 15.0,
        drain_batch: int = 200,
        linger_ms: int = 5,
    ) -> None:
        self.settings = settings
        self.buffer = buffer
        self.stats = stats
        self.delivery_timeout_ms = int(delivery_timeout_s * 1000)
        self.drain_batch = drain_batch
        self.linger_ms = linger_ms
        self._producer: EventProducer | None = None
        self._buffering = buffer.count > 0
        self._switch = threading.Lock()  # buffering -> direct, against a record on its way to the buffer
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._drain_loop, name="publisher-drain", daemon=True)
        self.last_error: str | None = None
        # Live records handed to the producer and not yet acknowledged or failed: what the producer still
        # holds in memory. Expired or left over at close, they go to the buffer (duplicates are deduped).
        self._pending: dict[int, tuple[OutRecord, float]] = {}
        self._pending_lock = threading.Lock()
        self._next_id = 0

    @property
    def connected(self) -> bool:
        return self._producer is not None and not self._buffering

    def start(self) -> None:
        """Start the drainer (it connects); idempotent, so a caller may connect before the agent starts."""
        if self._thread.ident is None:
            self._thread.start()

    def _new_producer(self) -> EventProducer:
        request_timeout = max(1000, min(self.settings.request_timeout_ms, self.delivery_timeout_ms // 2))
        return EventProducer(
            self.settings,
            linger_ms=self.linger_ms,
            max_block_ms=2000,
            delivery_timeout_ms=self.delivery_timeout_ms,
            request_timeout_ms=request_timeout,
            bootstrap_timeout_s=5.0,
            reconnect_backoff_max_ms=2000,
        )

    def publish(self, role: TopicRole, event: BaseModel, priority: int, jpeg: bytes | None = None) -> None:
        self.send(make_record(self.settings, role, event, priority, jpeg))

    def send(self, record: OutRecord) -> None:
        """Hand ``record`` to Kafka, or to the buffer when Kafka is not (known to be) taking records."""
        producer = self._producer
        if self._buffering or producer is None:
            with self._switch:  # the drainer may be handing over: wait for its last buffered records
                producer = self._producer
                if self._buffering or producer is None:
                    self._to_buffer(record)
                    return
        with self._pending_lock:
            pid = self._next_id
            self._next_id += 1
            self._pending[pid] = (record, time.monotonic())
        try:
            future = producer.send_raw(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
        except (DeliveryError, KafkaError) as exc:
            # Not enqueued: no buffer space or metadata, or the drainer closed this producer meanwhile
            # (IllegalStateError). The record goes to the disk buffer, never to a log line.
            self._resolve(pid, exc)
            return
        future.add_callback(lambda _meta: self._resolve(pid, None))
        future.add_errback(lambda exc: self._resolve(pid, exc))

    def _resolve(self, pid: int, exc: BaseException | None) -> None:
        with self._pending_lock:
            entry = self._pending.pop(pid, None)
        if entry is None:
            return  # already moved to the buffer as expired
        if exc is None:
            self.stats.incr("published")
        else:
            self._failed(entry[0], exc)

    def _expire_pending(self, older_than_s: float) -> int:
        """Move live records unresolved for ``older_than_s`` (all if 0) to the buffer."""
        cutoff = time.monotonic() - older_than_s
        with self._pending_lock:
            expired = [pid for pid, (_r, t) in self._pending.items() if older_than_s == 0 or t < cutoff]
            records = [self._pending.pop(pid)[0] for pid in expired]
        for record in records:
            self._failed(record, TimeoutError("no acknowledgement from the producer"))
        return len(records)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _failed(self, record: OutRecord, exc: BaseException) -> None:
        self.last_error = repr(exc)
        self.stats.incr("publish_failures")
        self._buffering = True
        self._to_buffer(record)

    def _to_buffer(self, record: OutRecord) -> None:
        if self.buffer.put(record):
            self.stats.incr("buffered")
        self._wake.set()

    def _drain_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if self._producer is None:
                    self._producer = self._new_producer()
                    logger.info("connected to Kafka at %s", self.settings.bootstrap_servers)
                self._expire_pending(self.delivery_timeout_ms / 1000 + 5)
                if not self._buffering and self.buffer.count == 0:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                self._drain_once(self._producer)
                backoff = 0.5
            except (KafkaUnavailableError, DeliveryError, KafkaError) as exc:
                self.last_error = repr(exc)
                logger.warning(
                    "Kafka unavailable (%s); %d records buffered; retry in %.1fs",
                    exc,
                    self.buffer.count,
                    backoff,
                )
                self._reset_producer()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:  # a bug or a misconfigured client must not silently end store-and-forward
                logger.exception("publisher drain loop error; %d records buffered", self.buffer.count)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _reset_producer(self) -> None:
        """Drop a producer that failed to deliver: a fresh one (new producer id) after the backoff."""
        producer, self._producer = self._producer, None
        if producer is not None:
            self._buffering = True
            try:
                producer.close(0)
            except KafkaError as exc:
                logger.debug("closing the failed producer: %r", exc)
            self._expire_pending(0)

    def _drain_once(self, producer: EventProducer) -> None:
        """Send one batch of the oldest buffered records and wait for them; the last batch hands over."""
        batch = self.buffer.peek(self.drain_batch)
        if len(batch) < self.drain_batch:
            with self._switch:  # nothing joins the buffer meanwhile: send() waits here while buffering
                batch = self.buffer.peek(self.drain_batch)
                handover = len(batch) < self.drain_batch
                futures = self._send_batch(producer, batch)
                if handover:
                    self._buffering = False  # the live records that follow are enqueued after these
            if handover and batch:
                logger.info("%d buffered records handed to Kafka; sending directly again", len(batch))
        else:
            futures = self._send_batch(producer, batch)
        self._wait_acked(futures)

    @staticmethod
    def _send_batch(producer: EventProducer, batch: list[Buffered]) -> list[tuple[int, Any]]:
        futures: list[tuple[int, Any]] = []
        for item in batch:
            r = item.record
            future = producer.send_raw(r.topic, r.value, key=r.key, headers=list(r.headers))
            futures.append((item.seq, future))
        return futures

    def _wait_acked(self, futures: list[tuple[int, Any]]) -> None:
        acked: list[int] = []
        try:
            for seq, future in futures:
                future.get(timeout=self.delivery_timeout_ms / 1000 + 5)
                acked.append(seq)
        finally:
            self.buffer.ack(acked)  # what was acknowledged leaves the buffer even if a later record failed
            self.stats.incr("published", len(acked))
            self.stats.incr("drained", len(acked))

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait for live records to be acknowledged or, failing that, moved to the buffer."""
        if self._producer is not None:
            try:
                self._producer.flush(timeout_s)
            except (DeliveryError, KafkaError) as exc:
                logger.warning("flush: %r (unacknowledged records fall back to the buffer)", exc)

    def close(self, timeout_s: float = 10.0) -> None:
        """Drain what is buffered (up to ``timeout_s`` while Kafka is reachable), then stop; unacknowledged
        live records end up in the buffer, sent by the next run. Does not close the buffer."""
        deadline = time.monotonic() + timeout_s
        self.flush(timeout_s)
        while self.buffer.count and self._producer is not None and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.1)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout_s + 30)
        if self._producer is not None:
            self.flush(timeout_s)
            try:
                self._producer.close(timeout_s)
            except KafkaError as exc:
                logger.warning("producer close: %r", exc)
            self._producer = None
        moved = self._expire_pending(0)  # whatever the producer never resolved stays safe on disk
        if moved:
            logger.warning("%d unacknowledged records moved to the buffer at shutdown", moved)
