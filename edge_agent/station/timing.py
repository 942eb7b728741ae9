"""When a triggered part reaches the ejector: a fixed delay, a distance at a speed, or encoder counts.

With an encoder the conveyor's rate (counts per second) is measured between successive triggers that carry a
count, smoothed, and the part's time at the ejector is predicted at its trigger from that rate. A conveyor
that stops between the camera and the ejector is not followed: such a line keeps the part's position in the
PLC and takes the reject as a flag for the part id.
"""

from __future__ import annotations

import logging

from edge_agent.config.station import EjectorConfig
from edge_agent.triggers.base import TriggerEvent

logger = logging.getLogger(__name__)


class EjectorTiming:
    def __init__(self, config: EjectorConfig, smoothing: float = 0.5) -> None:
        self.delay_s = config.fixed_delay_s()
        self.counts = config.counts_to_ejector
        self.rate = config.counts_per_s  # counts per second, measured once two parts carried a count
        self.smoothing = smoothing
        self._last: tuple[int, float] | None = None

    def due(self, event: TriggerEvent) -> float:
        """Monotonic time at which the part of ``event`` is in front of the ejector."""
        if self.delay_s is not None:
            return event.at_mono + self.delay_s
        assert self.counts is not None and self.rate is not None
        if event.encoder is not None:
            self._measure(event.encoder, event.at_mono)
        return event.at_mono + self.counts / self.rate

    def _measure(self, count: int, at: float) -> None:
        last, self._last = self._last, (count, at)
        if last is None or at <= last[1]:
            return
        counts = count - last[0]
        if counts <= 0:  # the counter wrapped or was reset: keep the last rate
            logger.debug("encoder went from %d to %d: rate kept at %.1f/s", last[0], count, self.rate or 0)
            return
        measured = counts / (at - last[1])
        assert self.rate is not None
        self.rate += self.smoothing * (measured - self.rate)
