"""A consumer that lags without moving: kafka-python can leave a consumer whose partition leader went away
polling without fetching after the leader is back (seen in the site test: an agent never received a deployment
published after its deployments leader was killed and restarted; upstream e.g. dpkp/kafka-python#1419). The
check compares the consumer's positions with the partitions' ends every ``every_s``: behind, and not moved
since the last check, twice in a row, is a stall, and the caller opens the consumer again. Used by the agent's
deployment watcher and the API's sink (which checks only after an empty poll)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kafka.errors import KafkaError

logger = logging.getLogger(__name__)


class StallCheck:
    def __init__(self, every_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self._next = clock() + every_s
        self._behind: dict[Any, int] | None = None  # partition -> position, when last seen behind its end

    def stalled(self, raw: Any) -> bool:
        """True when ``raw`` (a kafka-python consumer) lagged at the same positions at two checks in a row;
        a check that cannot ask the broker tells nothing (False)."""
        if self.clock() < self._next:
            return False
        self._next = self.clock() + self.every_s
        try:
            assigned = list(raw.assignment())
            ends = raw.end_offsets(assigned) if assigned else {}
            positions = {tp: raw.position(tp) for tp in assigned}
            behind = {tp: pos for tp, pos in positions.items() if pos < ends.get(tp, 0)}
        except KafkaError as exc:  # the broker does not answer: not moving is no stall then; start over
            logger.debug("stall check skipped: %s", exc)
            self._behind = None
            return False
        stuck = bool(behind) and behind == self._behind
        self._behind = behind or None
        if stuck:
            logger.warning(
                "consumer stalled: %s behind the partition end and not moving for %.0f s; opening it again",
                ", ".join(f"{tp.topic}-{tp.partition}@{pos}" for tp, pos in behind.items()),
                self.every_s,
            )
        return stuck
