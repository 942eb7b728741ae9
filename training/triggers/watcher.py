"""Evaluates the triggers now and then and queues the retrains they ask for.

- :class:`TriggerEvaluator`: the triggers and the queue, without Kafka: ``observe`` events, ``check`` now and
  then (thread-safe: events may come from one thread and checks from another).
- :class:`TriggerChecker`: a thread calling ``check`` every ``check_every_s``. The trainer service uses it and
  feeds the events from its ingest consumer once they are stored, so ``new_labels`` (which counts the reviews
  in the dataset store) and the drift triggers see the same events, with no consumer group of their own.
- :class:`TriggerWatcher`: a consumer group of its own on the outcomes and labels topics, for callers without
  an ingest to feed them (its events may be ahead of what the store holds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
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
        self._lock = threading.Lock()

    def observe(self, event: object, now: datetime) -> None:
        with self._lock:
            for trigger in self.triggers:
                trigger.observe(event, now)

    def observe_all(self, events: Iterable[object], now: datetime | None = None) -> None:
        now = now or utcnow()
        for event in events:
            self.observe(event, now)

    def check(self, now: datetime) -> list[RetrainRequest]:
        """Queue what is due; every trigger then forgets the evidence of the products queued.

        Queued first, forgotten second: a trainer stopped in between finds the request in its durable queue
        and the stored evidence still counted, so the trigger fires again and merges into that request."""
        fired: list[RetrainRequest] = []
        with self._lock:
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
            for product in sorted({r.product for r in fired}):
                for trigger in self.triggers:
                    trigger.reset(product, now)
            self.submitted.extend(fired)
        return fired


class TriggerChecker:
    """Calls ``evaluator.check`` every ``check_every_s`` in its thread; an error stops it and is kept."""

    def __init__(
        self,
        evaluator: TriggerEvaluator,
        *,
        check_every_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.evaluator = evaluator
        self.check_every_s = check_every_s
        self.clock = clock
        self.error: BaseException | None = None

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(self.check_every_s):
                self.evaluator.check(self.clock())
        except Exception as exc:  # thread boundary: keep it for the caller, log it
            self.error = exc
            logger.exception("trigger checks stopped")


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
