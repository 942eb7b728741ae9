"""Keeps a part trigger alive like the source watchdog: reopens it with exponential backoff (tenacity) after
it fails, counts and reports reconnects, and checks for stop between waits."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from edge_agent.config import ReconnectConfig
from edge_agent.errors import TriggerError
from edge_agent.triggers.base import TriggerEvent, TriggerSource

logger = logging.getLogger(__name__)


@dataclass
class TriggerStats:
    parts: int = 0
    reconnects: int = 0
    errors: int = 0
    connected: bool = False


class WatchedTrigger:
    """Iterate parts from ``trigger`` until ``stop`` is set; never raises on device loss."""

    def __init__(
        self,
        trigger: TriggerSource,
        config: ReconnectConfig,
        stop: threading.Event,
        on_status: Callable[[bool, str], None] | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.trigger = trigger
        self.config = config
        self.stop = stop
        self.on_status = on_status
        self.poll_s = poll_s
        self.stats = TriggerStats()

    def _set_connected(self, connected: bool, detail: str) -> None:
        if connected != self.stats.connected:
            self.stats.connected = connected
            if self.on_status is not None:
                self.on_status(connected, detail)

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning("trigger %s: open failed (%s), retry %d", self.trigger.name, exc, state.attempt_number)

    def _open(self) -> bool:
        retrying = Retrying(
            retry=retry_if_exception_type(TriggerError),
            wait=wait_exponential(multiplier=self.config.initial_backoff_s, max=self.config.max_backoff_s),
            sleep=self._sleep,
            stop=lambda _state: self.stop.is_set(),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            retrying(self.trigger.open)
        except TriggerError as exc:
            logger.info("trigger %s: gave up opening on stop: %s", self.trigger.name, exc)
            return False
        self._set_connected(True, f"opened trigger {self.trigger.name}")
        return True

    def _reconnect(self, reason: str) -> bool:
        self._set_connected(False, f"trigger {self.trigger.name}: {reason}")
        self.stats.reconnects += 1
        logger.warning("trigger %s down (%s); reconnecting", self.trigger.name, reason)
        try:
            self.trigger.close()
        except Exception:  # closing a broken device may fail too: it is being replaced anyway
            logger.exception("trigger %s: close failed", self.trigger.name)
        return self._open()

    def events(self) -> Generator[TriggerEvent, None, None]:
        if not self._open():
            return
        try:
            while not self.stop.is_set():
                try:
                    event = self.trigger.wait(self.poll_s)
                except TriggerError as exc:
                    self.stats.errors += 1
                    if not self._reconnect(str(exc)):
                        return
                    continue
                if event is not None:
                    self.stats.parts += 1
                    yield event
        finally:
            self._set_connected(False, "closed")
            self.trigger.close()
