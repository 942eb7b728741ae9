"""Feeds the fleet's outcomes and labels to the triggers and queues the retrains they ask for.

Trigger counts live in memory: after a restart they start again from zero (the data itself is safe in the
dataset store, fed by the ingest consumer); the watcher's consumer group resumes from its committed offsets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from factoryloop.kafka import TypedConsumer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.triggers.base import RetrainRequest, Trigger
from training.triggers.queue import Admission, RetrainQueue

logger = logging.getLogger(__name__)
DEFAULT_GROUP = "factoryloop-triggers"


def utcnow() -> datetime:
    return datetime.now(UTC)


class TriggerEvaluator:
    """The triggers and the queue, without Kafka: ``observe`` events, ``check`` now and then."""

    def __init__(self, triggers: Sequence[Trigger], queue: RetrainQueue) -> None:
        self.triggers = list(triggers)
        self.queue = queue
        self.submitted: list[RetrainRequest] = []

    def observe(self, event: object, now: datetime) -> None:
        for trigger in self.triggers:
            trigger.observe(event, now)

    def check(self, now: datetime) -> list[RetrainRequest]:
        """Queue what is due; every trigger then forgets the evidence of the products queued."""
        fired: list[RetrainRequest] = []
        for trigger in self.triggers:
            for request in trigger.due(now):
                admission = self.queue.submit(request)
                level = logging.INFO if admission is Admission.QUEUED else logging.DEBUG
                logger.log(
                    level,
                    "retrain of %s %s: %s (%s)",
                    request.product,
                    admission,
                    request.reason,
                    trigger.name,
                )
                fired.append(request)
        for product in {r.product for r in fired}:
            for trigger in self.triggers:
                trigger.reset(product, now)
        self.submitted.extend(fired)
        return fired


class TriggerWatcher:
    """A consumer of the outcomes and labels topics driving a :class:`TriggerEvaluator` in its thread."""

    def __init__(
        self,
        kafka: KafkaSettings,
        evaluator: TriggerEvaluator,
        *,
        group_id: str = DEFAULT_GROUP,
        check_every_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.evaluator = evaluator
        self.check_every_s = check_every_s
        self.clock = clock
        self.error: BaseException | None = None
        self._consumer = TypedConsumer(kafka, [TopicRole.OUTCOMES, TopicRole.LABELS], group_id)

    def run(self, stop: threading.Event) -> None:
        last = self.clock()
        try:
            while not stop.is_set():
                records = self._consumer.poll(timeout_ms=500)
                for record in records:
                    self.evaluator.observe(record.event, self.clock())
                now = self.clock()
                if (now - last).total_seconds() >= self.check_every_s:
                    self.evaluator.check(now)
                    last = now
                if records:
                    self._consumer.commit()
        except Exception as exc:  # thread boundary: keep it for the caller, log it
            self.error = exc
            logger.exception("trigger watcher stopped")

    def close(self) -> None:
        self._consumer.close()
