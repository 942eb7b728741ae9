"""The reject-signal sink plug-in interface, and the worker that runs each sink off the inspection thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from edge_agent.stats import AgentStats
from factoryloop.schemas import Verdict

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RejectSignal:
    """What a sink is told about one inspected item."""

    verdict: Verdict
    frame_id: str
    item_id: str | None
    line_id: str
    station_id: str
    classes: tuple[str, ...]
    captured_at: datetime
    captured_mono: float  # time.monotonic() at capture, for the frame -> reject latency
    outcome_event_id: str

    def payload(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "frame_id": self.frame_id,
            "item_id": self.item_id,
            "line_id": self.line_id,
            "station_id": self.station_id,
            "classes": list(self.classes),
            "captured_at": self.captured_at.isoformat(),
            "outcome_event_id": self.outcome_event_id,
        }


class Sink(ABC):
    """Delivers one signal; raises on failure. Called from its own worker thread only."""

    name: str = "sink"

    def open(self) -> None:  # noqa: B027 - optional hook
        """Connect eagerly (optional); ``send`` must also work after a failed ``open``."""

    @abstractmethod
    def send(self, signal: RejectSignal) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


_STOP = object()


class SinkWorker:
    """A bounded queue and a thread per sink: a slow or failing sink never blocks inspection.

    ``submit`` never blocks; a full queue counts as a failure (``sink_failures:<name>``) like a send error.
    The queue is a C ``SimpleQueue`` (a put is one C call, no Python condition variable on the reject path);
    its bound holds because the inspection thread is the only producer.
    """

    def __init__(self, sink: Sink, verdicts: tuple[str, ...], queue_size: int, stats: AgentStats) -> None:
        self.sink = sink
        self.verdicts = frozenset(verdicts)
        self.stats = stats
        self.queue_size = queue_size
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sink-{sink.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, signal: RejectSignal) -> bool:
        if signal.verdict.value not in self.verdicts:
            return False
        if self._queue.qsize() >= self.queue_size:
            self.stats.incr(f"sink_failures:{self.sink.name}")
            self.stats.incr(f"sink_dropped:{self.sink.name}")
            return False
        self._queue.put(signal)
        return True

    def _run(self) -> None:
        try:
            self.sink.open()
        except Exception:
            logger.exception("sink %s: open failed; will retry on each signal", self.sink.name)
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            assert isinstance(item, RejectSignal)
            try:
                self.sink.send(item)
            except Exception as exc:
                self.stats.incr(f"sink_failures:{self.sink.name}")
                logger.warning("sink %s failed for frame %s: %r", self.sink.name, item.frame_id, exc)
                continue
            self.stats.incr(f"sink_sent:{self.sink.name}")
            if item.verdict is Verdict.FAIL:
                self.stats.reject_ms.add((time.monotonic() - item.captured_mono) * 1000)

    def close(self, timeout_s: float = 5.0) -> None:
        self._queue.put(_STOP)  # after the signals already queued
        self._thread.join(timeout=timeout_s)
        try:
            self.sink.close()
        except Exception:
            logger.exception("sink %s: close failed", self.sink.name)
