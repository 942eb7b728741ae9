"""Keeps a source alive: reopens it with backoff after it fails (:class:`edge_agent.reopen.Reopener`), counts
and reports reconnects, and skips (and counts) corrupt or empty frames."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from edge_agent.config import ReconnectConfig
from edge_agent.errors import SourceError
from edge_agent.reopen import Reopener, StatusCallback
from edge_agent.sources.base import FrameSource, RawFrame, is_valid_image

logger = logging.getLogger(__name__)


@dataclass
class SourceStats:
    corrupt: int = 0
    reconnects: int = 0
    read_errors: int = 0
    connected: bool = False


class WatchedSource:
    """Iterate valid frames from ``source`` until it ends or ``stop`` is set; never raises on device loss."""

    def __init__(
        self,
        source: FrameSource,
        config: ReconnectConfig,
        stop: threading.Event,
        on_status: StatusCallback | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.max_frames = max_frames
        self.source = source
        self.config = config
        self.stop = stop
        self.on_status = on_status
        self.stats = SourceStats()
        self._reopen = Reopener("source", source.name, SourceError, config, stop, self.stats, on_status)

    def _open(self) -> bool:
        return self._reopen.open(self.source.open, f"opened {self.source.name}")

    def _reconnect(self, reason: str) -> bool:
        opened = f"opened {self.source.name}"
        return self._reopen.reconnect(reason, reason, opened, self.source.close, self.source.open)

    def frames(self) -> Iterator[RawFrame]:
        if not self._open():
            return
        failures = yielded = 0
        try:
            while not self.stop.is_set():
                try:
                    frame = self.source.read()
                except SourceError as exc:
                    self.stats.read_errors += 1
                    failures += 1
                    if failures >= self.config.read_failures:
                        failures = 0
                        if not self._reconnect(str(exc)):
                            return
                    continue
                failures = 0
                if frame is None:
                    return
                if not is_valid_image(frame.image):
                    self.stats.corrupt += 1
                    logger.debug("source %s: corrupt frame %s skipped", self.source.name, frame.index)
                    continue
                yield frame
                yielded += 1
                if self.max_frames is not None and yielded >= self.max_frames:
                    return
        finally:
            self._reopen.set_connected(False, "closed")
            self.source.close()
