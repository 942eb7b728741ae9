"""What the rollout controller sends to Kafka (deployments, rollout events), in order, until acknowledged.

A transition is recorded in MLflow first, then its deployment and its event go through the outbox: sent one at
a time, each kept until Kafka acknowledges it. While Kafka does not answer the head waits (the producer keeps
retrying it; a send that failed for good is sent again), nothing behind it overtakes it, and the controller
makes no new transition: the deployment of a recorded stage always goes out, after Kafka is back, instead of
being lost with a split fleet and no owner.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError
from pydantic import BaseModel

from factoryloop.errors import FactoryloopError
from factoryloop.kafka import EventProducer
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)


@dataclass
class Outgoing:
    role: TopicRole
    message: BaseModel
    key: str
    then: Callable[[], None] | None = None  # run once acknowledged (e.g. start the stage's window)
    future: Any = None  # kafka-python's future while in flight


class Outbox:
    def __init__(self, producer: EventProducer, wait_s: float = 5.0) -> None:
        self.producer = producer
        self.wait_s = wait_s  # how long one flush waits for the head's acknowledgement
        self.error: str | None = None  # why the head is not acknowledged yet (None: Kafka answered last)
        self._queue: deque[Outgoing] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def send(
        self, role: TopicRole, message: BaseModel, key: str, then: Callable[[], None] | None = None
    ) -> bool:
        """Queue ``message`` and flush; True when everything queued is acknowledged."""
        self._queue.append(Outgoing(role, message, key, then))
        return self.flush()

    def flush(self) -> bool:
        """Send the head, wait up to ``wait_s`` for it, and so on; True when the outbox is empty."""
        while self._queue:
            out = self._queue[0]
            try:
                if out.future is None:
                    out.future = self.producer.send(out.role, out.message, key=out.key)
                out.future.get(timeout=self.wait_s)
            except KafkaTimeoutError as exc:  # not acknowledged yet: kept in flight, or sent again
                self._failed(out, exc)
                return False
            except (KafkaError, FactoryloopError) as exc:  # could not be enqueued, or failed for good
                self._failed(out, exc)
                return False
            self._queue.popleft()
            if self.error is not None:
                logger.warning("Kafka acknowledges the rollout controller's messages again")
            self.error = None
            if out.then is not None:
                out.then()
        return True

    def _failed(self, out: Outgoing, exc: BaseException) -> None:
        if out.future is not None and out.future.is_done:
            out.future = None  # failed for good (delivery timeout): sent again at the next flush
        first = self.error is None
        self.error = f"{type(exc).__name__}: {exc}"
        if first:
            logger.warning(
                "Kafka does not acknowledge the rollout controller's %s (%s): %d message(s) wait, "
                "no new rollout step until they are sent",
                out.role.value,
                self.error,
                len(self._queue),
            )
