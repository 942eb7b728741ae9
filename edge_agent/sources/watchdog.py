"""Keeps a source alive: reopens it with exponential backoff (tenacity) after it fails, counts and reports
reconnects, and skips (and counts) corrupt or empty frames."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from edge_agent.config import ReconnectConfig
from edge_agent.errors import SourceError
from edge_agent.sources.base import FrameSource, RawFrame, is_valid_image

logger = logging.getLogger(__name__)

StatusCallback = Callable[[bool, str], None]  # (connected, detail)


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

    def _set_connected(self, connected: bool, detail: str) -> None:
        if connected != self.stats.connected:
            self.stats.connected = connected
            if self.on_status is not None:
                self.on_status(connected, detail)

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning("source %s: open failed (%s), retry %d", self.source.name, exc, state.attempt_number)

    def _open(self) -> bool:
        """Open with backoff; False if stopped before it succeeded."""
        retrying = Retrying(
            retry=retry_if_exception_type(SourceError),
            wait=wait_exponential(multiplier=self.config.initial_backoff_s, max=self.config.max_backoff_s),
            sleep=self._sleep,
            stop=lambda _state: self.stop.is_set(),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            retrying(self.source.open)
        except SourceError as exc:
            logger.info("source %s: gave up opening on stop: %s", self.source.name, exc)
            return False
        self._set_connected(True, f"opened {self.source.name}")
        return True

    def _reconnect(self, reason: str) -> bool:
        self._set_connected(False, reason)
        self.stats.reconnects += 1
        logger.warning("source %s down (%s); reconnecting", self.source.name, reason)
        try:
            self.source.close()
        except Exception:  # closing a broken device may fail too: it is being replaced anyway
            logger.exception("source %s: close failed", self.source.name)
        return self._open()

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
            self._set_connected(False, "closed")
            self.source.close()
