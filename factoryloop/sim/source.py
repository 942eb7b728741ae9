"""A live frame source at a target fps, for the edge agent to wrap like a camera."""

from __future__ import annotations

import time
from collections.abc import Iterator

from factoryloop.sim.errors import SimError
from factoryloop.sim.render import SimFrame, Simulator


class LiveSource:
    """Yields :class:`SimFrame` paced to ``fps`` (``0`` = as fast as possible, never sleeps).

    Pacing follows a fixed schedule from the first frame, so slow consumers do not accumulate drift;
    a consumer that falls behind gets the next frames immediately (frames are never skipped).
    """

    def __init__(
        self, simulator: Simulator, *, fps: float | None = None, start: int = 0, count: int | None = None
    ) -> None:
        self.simulator = simulator
        self.fps = simulator.config.camera.fps if fps is None else fps
        if self.fps < 0:
            raise SimError(f"fps must be >= 0, got {self.fps}")
        if count is not None and count < 0:
            raise SimError(f"count must be >= 0, got {count}")
        self.next_index = start
        self._end = None if count is None else start + count
        self._t0: float | None = None
        self._emitted = 0
        self._closed = False

    def read(self) -> SimFrame | None:
        """The next frame, or ``None`` once ``count`` frames were produced or the source is closed."""
        if self._closed or (self._end is not None and self.next_index >= self._end):
            return None
        if self.fps > 0:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self._emitted / self.fps
            if due > now:
                time.sleep(due - now)
        frame = self.simulator.frame(self.next_index)
        self.next_index += 1
        self._emitted += 1
        return frame

    def close(self) -> None:
        self._closed = True

    def __iter__(self) -> Iterator[SimFrame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
