"""Keeps a part trigger alive like the source watchdog: reopens it with backoff after it fails
(:class:`edge_agent.reopen.Reopener`), counts and reports reconnects, and checks for stop between waits."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from edge_agent.config import ReconnectConfig
from edge_agent.errors import TriggerError
from edge_agent.reopen import Reopener
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
        self._reopen = Reopener("trigger", trigger.name, TriggerError, config, stop, self.stats, on_status)

    def _open(self) -> bool:
        return self._reopen.open(self.trigger.open, f"opened trigger {self.trigger.name}")

    def _reconnect(self, reason: str) -> bool:
        lost, opened = f"trigger {self.trigger.name}: {reason}", f"opened trigger {self.trigger.name}"
        return self._reopen.reconnect(reason, lost, opened, self.trigger.close, self.trigger.open)

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
            self._reopen.set_connected(False, "closed")
            self.trigger.close()
