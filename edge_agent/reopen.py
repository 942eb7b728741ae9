"""Reopen a device (a camera, a part trigger) with exponential backoff (tenacity) until it opens or the agent
stops; count reconnects and report connected/disconnected once per change. Shared by
:class:`edge_agent.sources.watchdog.WatchedSource` and :class:`edge_agent.station.watch.WatchedTrigger`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from edge_agent.config import ReconnectConfig

logger = logging.getLogger(__name__)

StatusCallback = Callable[[bool, str], None]  # (connected, detail)


class LinkStats(Protocol):
    connected: bool
    reconnects: int


class Reopener:
    """``kind`` ("source", "trigger") and ``name`` are for the logs; ``error`` is the device's failure type
    (retried); ``stats`` gets ``connected`` and ``reconnects``."""

    def __init__(
        self,
        kind: str,
        name: str,
        error: type[Exception],
        config: ReconnectConfig,
        stop: threading.Event,
        stats: LinkStats,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.kind, self.name, self.error = kind, name, error
        self.config = config
        self.stop = stop
        self.stats = stats
        self.on_status = on_status

    def set_connected(self, connected: bool, detail: str) -> None:
        if connected != self.stats.connected:
            self.stats.connected = connected
            if self.on_status is not None:
                self.on_status(connected, detail)

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning("%s %s: open failed (%s), retry %d", self.kind, self.name, exc, state.attempt_number)

    def open(self, open_device: Callable[[], None], detail: str) -> bool:
        """Open with backoff; False if stopped before it succeeded."""
        retrying = Retrying(
            retry=retry_if_exception_type(self.error),
            wait=wait_exponential(multiplier=self.config.initial_backoff_s, max=self.config.max_backoff_s),
            sleep=self._sleep,
            stop=lambda _state: self.stop.is_set(),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            retrying(open_device)
        except self.error as exc:
            logger.info("%s %s: gave up opening on stop: %s", self.kind, self.name, exc)
            return False
        self.set_connected(True, detail)
        return True

    def reconnect(
        self,
        reason: str,
        lost: str,
        opened: str,
        close_device: Callable[[], None],
        open_device: Callable[[], None],
    ) -> bool:
        """Report the loss, close the broken device, reopen it; False: stopped before it opened."""
        self.set_connected(False, lost)
        self.stats.reconnects += 1
        logger.warning("%s %s down (%s); reconnecting", self.kind, self.name, reason)
        try:
            close_device()
        except Exception:  # closing a broken device may fail too: it is being replaced anyway
            logger.exception("%s %s: close failed", self.kind, self.name)
        return self.open(open_device, opened)
