"""A software trigger: one part every ``period_s``, ids ``<prefix><n>`` (no drift: ticks on a fixed grid)."""

from __future__ import annotations

import time

from edge_agent.config.triggers import TimerTrigger
from edge_agent.triggers.base import TriggerEvent, TriggerSource
from factoryloop.schemas import utc_now


class TimerTriggerSource(TriggerSource):
    def __init__(self, config: TimerTrigger) -> None:
        self.config = config
        self.name = f"timer:{config.period_s}s"
        self._next: float | None = None
        self._count = 0

    def open(self) -> None:
        self._next = time.monotonic()

    def wait(self, timeout_s: float) -> TriggerEvent | None:
        if self._next is None:
            self.open()
        assert self._next is not None
        delay = self._next - time.monotonic()
        if delay > timeout_s:
            time.sleep(max(timeout_s, 0.0))
            return None
        if delay > 0:
            time.sleep(delay)
        at_mono = time.monotonic()
        self._count += 1
        self._next += self.config.period_s
        if at_mono - self._next > 1.0:  # fell far behind (a stalled thread): resync, do not burst
            self._next = at_mono + self.config.period_s
        return TriggerEvent(part_id=f"{self.config.part_prefix}{self._count}", at_mono=at_mono, at=utc_now())

    def close(self) -> None:
        self._next = None
