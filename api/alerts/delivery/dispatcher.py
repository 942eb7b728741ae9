"""Deliver notices without blocking the evaluator: one queue and one thread per channel, each notice tried
``1 + retries`` times with exponential backoff; every outcome (sent, failed, dropped) goes to ``record``."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.alerts.delivery.base import Channel, Notice

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    alert_id: int
    channel: str
    event: str
    status: str  # sent | failed
    attempts: int
    error: str | None


Record = Callable[[Delivery], None]


class _Worker:
    def __init__(self, channel: Channel, record: Record, stop: threading.Event) -> None:
        self.channel = channel
        self.record = record
        self.stop = stop
        self.queue: queue.Queue[Notice | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self.thread = threading.Thread(target=self._run, name=f"alert-{channel.config.name}", daemon=True)

    def _deliver(self, notice: Notice) -> Delivery:
        c = self.channel.config
        error = None
        for attempt in range(1, c.retries + 2):
            try:
                self.channel.send(notice)
                return Delivery(notice.alert_id, c.name, notice.event, "sent", attempt, None)
            except Exception as exc:  # thread boundary: any failure of a channel is a failed attempt
                error = str(exc) or type(exc).__name__
                logger.warning("alert %s to %s, attempt %s: %s", notice.alert_id, c.name, attempt, error)
            if attempt <= c.retries and self.stop.wait(c.backoff_s * 2 ** (attempt - 1)):
                error = f"{error} (stopped before retry {attempt})"
                return Delivery(notice.alert_id, c.name, notice.event, "failed", attempt, error)
        return Delivery(notice.alert_id, c.name, notice.event, "failed", c.retries + 1, error)

    def _run(self) -> None:
        while True:
            notice = self.queue.get()
            if notice is None:
                return
            outcome = self._deliver(notice)
            try:
                self.record(outcome)
            except Exception:  # thread boundary: the database may be down; the log keeps the outcome
                logger.exception(
                    "could not record the delivery of alert %s to %s", outcome.alert_id, outcome.channel
                )


class Dispatcher:
    def __init__(self, channels: list[Channel], record: Record) -> None:
        self.record = record
        self._stop = threading.Event()
        self._workers = [_Worker(c, record, self._stop) for c in channels]
        self._started = False

    @property
    def channels(self) -> list[str]:
        return [w.channel.config.name for w in self._workers]

    def start(self) -> None:
        for w in self._workers:
            w.thread.start()
        self._started = True

    def submit(self, notice: Notice) -> None:
        """Queue ``notice`` for every channel that wants it; never blocks (a full queue records a failure)."""
        for w in self._workers:
            if not w.channel.config.wants(notice):
                continue
            try:
                w.queue.put_nowait(notice)
            except queue.Full:
                self.record(
                    Delivery(
                        notice.alert_id,
                        w.channel.config.name,
                        notice.event,
                        "failed",
                        0,
                        "queue full: dropped",
                    )
                )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop retrying, deliver what is queued once more at most, and end the threads."""
        self._stop.set()
        if not self._started:
            return
        deadline = time.monotonic() + timeout_s
        for w in self._workers:
            try:
                w.queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                logger.warning("alert channel %s still busy at stop", w.channel.config.name)
        for w in self._workers:
            w.thread.join(timeout=max(0.0, deadline - time.monotonic()))
