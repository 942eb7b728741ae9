"""The sink inside the API process, started whether or not Kafka answers.

``factoryloop api serve`` used to build its sink's consumer at startup and failed ("cannot reach Kafka ...
Application startup failed") when no broker answered, taking the dashboard down exactly when a supervisor
needs it. :class:`SinkSupervisor` builds the sink in a background thread and retries every ``retry_s``
seconds until a broker answers; once running, kafka-python reconnects by itself after a broker restarts, and
a sink loop that fails is rebuilt the same way. Nothing is skipped meanwhile: the sink resumes from its
group's committed offsets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from api.kafka_link import KafkaLink
from api.sink.runner import Sink, SinkStats
from factoryloop.errors import KafkaUnavailableError

logger = logging.getLogger(__name__)

SinkState = Literal["waiting", "running", "stopped"]


class SinkSupervisor:
    """Builds and runs a :class:`Sink` from ``make`` in a daemon thread until :meth:`stop`."""

    def __init__(self, make: Callable[[], Sink], link: KafkaLink, *, retry_s: float = 5.0) -> None:
        self._make = make
        self._link = link
        self.retry_s = retry_s
        self.sink: Sink | None = None
        self.state: SinkState = "waiting"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failures = 0

    @property
    def stats(self) -> SinkStats:
        sink = self.sink
        return sink.stats if sink is not None else SinkStats()

    def _build(self) -> Sink | None:
        try:
            sink = self._make()
        except KafkaUnavailableError as exc:
            self._link.mark_down(str(exc))
            self._failures += 1
            log = logger.warning if self._failures == 1 else logger.debug  # once per outage, not per retry
            log("sink waiting for Kafka (retrying every %.1fs): %s", self.retry_s, exc)
            return None
        if self._failures:
            logger.info("sink connected to Kafka after %d failed attempts", self._failures)
            self._failures = 0
        with self._lock:
            if self._stop.is_set():  # stopped while connecting
                sink.consumer.close()
                return None
            self.sink = sink
        return sink

    def _run(self) -> None:
        while not self._stop.is_set():
            sink = self._build()
            if sink is None:
                self._stop.wait(self.retry_s)
                continue
            self.state = "running"
            try:
                sink.run()  # until sink.stop(); closes its consumer on the way out
            except Exception as exc:  # the consumer failed for good: rebuild it from the committed offsets
                logger.exception("sink stopped; rebuilding it in %.1fs", self.retry_s)
                self._link.mark_down(f"sink: {type(exc).__name__}: {exc}")
                self.state = "waiting"
                self._stop.wait(self.retry_s)
        self.state = "stopped"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="api-sink", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            self._stop.set()
            sink = self.sink
        if sink is not None:
            sink.stop(timeout_s)  # sets its flag; its loop ends after the current poll
        if self._thread is not None:
            self._thread.join(timeout_s)
