"""A sink that logs each signal (bench tests, dry runs)."""

from __future__ import annotations

import logging

from edge_agent.config import LogSink
from edge_agent.sinks.base import RejectSignal, Sink

logger = logging.getLogger(__name__)


class LogReject(Sink):
    def __init__(self, config: LogSink, name: str) -> None:
        self.name = name
        self.level = logging.getLevelName(config.level)

    def send(self, signal: RejectSignal) -> None:
        logger.log(
            self.level,
            "%s frame=%s item=%s classes=%s",
            signal.verdict.value,
            signal.frame_id,
            signal.item_id,
            ",".join(signal.classes),
        )
