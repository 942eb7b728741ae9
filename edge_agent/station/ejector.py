"""The ejector scheduler: one thread with a heap of due rejects in front of the sinks.

The capture thread registers each triggered part, the inference thread hands in each frame's signal (or says
the frame is lost); this thread submits every part's signal to the sinks when the part reaches the ejector,
and counts (and logs) the rejects that came too late (``late_rejects``, not fired) and the parts that never
got a verdict (``missed_parts``; fail-safe rejected with ``ejector.missed: reject``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge_agent.config.station import EjectorConfig
from edge_agent.sinks.base import RejectSignal, SinkWorker
from edge_agent.station.timing import EjectorTiming
from edge_agent.station.tracker import PartTracker, TrackEvent
from edge_agent.stats import AgentStats
from edge_agent.triggers.base import TriggerEvent
from factoryloop.schemas import Verdict

logger = logging.getLogger(__name__)


class Ejector:
    def __init__(
        self,
        config: EjectorConfig,
        sinks: list[SinkWorker],
        stats: AgentStats,
        line_id: str,
        station_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sinks = sinks
        self.stats = stats
        self.clock = clock
        self.timing = EjectorTiming(config)
        fires = frozenset(Verdict(v) for s in sinks for v in s.verdicts)
        self.tracker = PartTracker(
            config.window_ms / 1000, fires, config.missed == "reject", line_id, station_id
        )
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ejector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def register(self, event: TriggerEvent, frames: int = 1) -> None:
        with self._cond:
            self.tracker.register(event, self.timing.due(event), frames)
            self._cond.notify()

    def decided(self, part_id: str, signal: RejectSignal) -> None:
        with self._cond:
            events = self.tracker.verdict(part_id, signal, self.clock())
            self._cond.notify()
        self._act(events)

    def lost(self, part_id: str, reason: str) -> None:
        with self._cond:
            events = self.tracker.lost(part_id, reason, self.clock())
            self._cond.notify()
        self._act(events)

    def _act(self, events: list[TrackEvent]) -> None:
        for ev in events:
            if ev.kind == "fire":
                assert ev.signal is not None
                if any([s.submit(ev.signal) for s in self.sinks]):
                    self.stats.incr(
                        "rejects_fired" if ev.signal.verdict is not Verdict.PASS else "passes_fired"
                    )
            elif ev.kind == "late":
                if ev.signal is not None and ev.signal.verdict is Verdict.PASS:
                    continue  # a late "good part" signal (a sink taking PASS) is just not sent
                self.stats.incr("late_rejects")
                logger.warning(
                    "late reject of part %s not fired (it would hit another part): %s", ev.part_id, ev.detail
                )
            else:
                self.stats.incr("missed_parts")
                logger.warning(
                    "part %s missed: %s; %s",
                    ev.part_id,
                    ev.detail,
                    "fail-safe reject" if self.tracker.fail_safe else "let through",
                )

    def _run(self) -> None:
        while True:
            with self._cond:
                events = self.tracker.due(self.clock())
                if not events:
                    if self._stopping and not len(self.tracker):
                        return
                    at = self.tracker.next_at()
                    self._cond.wait(None if at is None else max(0.0, at - self.clock()))
                    continue
            try:
                self._act(events)
            except Exception:  # a thread boundary: keep scheduling the other parts
                self.stats.incr("errors")
                logger.exception("ejector: acting on %d events failed", len(events))

    def close(self, timeout_s: float = 10.0) -> None:
        """Fire what is still due (parts between camera and ejector), then stop; before the sinks close."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.ident is None:  # never started
            return
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("ejector: %d parts still scheduled at close; not fired", len(self.tracker))
