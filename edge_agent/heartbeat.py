"""Periodic :class:`Heartbeat` on the heartbeats topic: throughput, latency, queues, buffer, model, camera."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge_agent.publish.buffer import PRIO_HEARTBEAT
from edge_agent.publish.publisher import Publisher
from factoryloop.schemas import Heartbeat
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


class HeartbeatLoop:
    def __init__(self, build: Callable[[], Heartbeat], publisher: Publisher, interval_s: float) -> None:
        self.build = build
        self.publisher = publisher
        self.interval_s = interval_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> Heartbeat:
        hb = self.build()
        self.publisher.publish(TopicRole.HEARTBEATS, hb, PRIO_HEARTBEAT)
        self.sent += 1
        return hb

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval_s
            try:
                self.beat()
            except Exception:
                logger.exception("heartbeat failed")

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)
