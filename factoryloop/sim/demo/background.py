"""A Kafka consumer in a daemon thread (its own group), handing each decoded event to :meth:`handle` under
``lock``; what stopped it is kept in :attr:`error` for the demo to raise (the demo's observers)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from factoryloop.kafka import TypedConsumer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


class BackgroundConsumer:
    def __init__(
        self, kafka: KafkaSettings, roles: Iterable[TopicRole], group_prefix: str, name: str
    ) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._consumer = TypedConsumer(kafka, list(roles), f"{group_prefix}-{uuid.uuid4().hex[:8]}")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def handle(self, event: Any) -> None:
        """One decoded event; called with :attr:`lock` held."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        self._consumer.close()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for record in self._consumer.poll(timeout_ms=500):
                    with self.lock:
                        self.handle(record.event)
        except Exception as exc:  # thread boundary
            self.error = exc
            logger.exception("%s stopped", self.name)
