"""Ask the rollout controller (``train deploy|rollback``): publish a :class:`RolloutRequest` on the
rollouts topic and, optionally, follow the controller's events for it until the rollout ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import FLEET_KEY, RolloutAction, RolloutEvent, RolloutRequest
from factoryloop.schemas.rollouts import TERMINAL
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.errors import RolloutError
from training.rollout.join import join_watched


def make_request(
    product: str,
    action: RolloutAction,
    *,
    requested_by: str,
    version: str | None = None,
    staged: bool = True,
    target: str = FLEET_KEY,
    reason: str | None = None,
) -> RolloutRequest:
    return RolloutRequest(
        request_id=uuid.uuid4().hex,
        product=product,
        action=action,
        model_version=version if action is RolloutAction.DEPLOY else None,
        to_version=version if action is RolloutAction.ROLLBACK else None,
        staged=staged,
        target=target,
        requested_by=requested_by,
        reason=reason,
    )


def gate_request(product: str, version: str, reason: str) -> RolloutRequest:
    """The gate promoted ``version``: its request to the controller (policy ``auto``: rolled out)."""
    return RolloutRequest(
        request_id=f"gate-{product}-{version}-{int(time.time())}",
        product=product,
        action=RolloutAction.DEPLOY,
        model_version=version,
        requested_by="gate",
        reason=reason[:1000],
    )


@contextmanager
def _following(kafka: KafkaSettings) -> Iterator[TypedConsumer]:
    consumer = TypedConsumer(kafka, [TopicRole.ROLLOUTS], None, auto_offset_reset="latest")
    try:
        join_watched(consumer, 0.0)
        yield consumer
    finally:
        consumer.close()


def ask(
    kafka: KafkaSettings,
    request: RolloutRequest,
    *,
    wait_s: float = 0.0,
    on_event: Callable[[RolloutEvent], None] = lambda e: None,
) -> RolloutEvent | None:
    """Publish ``request``; with ``wait_s`` > 0, report each event of it and return the one that ended it
    (None: not published yet when nothing waits). :class:`RolloutError` when no end came within ``wait_s``."""
    if wait_s <= 0:
        with EventProducer(kafka) as producer:
            producer.send_sync(TopicRole.ROLLOUTS, request, key=request.product)
        return None
    with _following(kafka) as consumer, EventProducer(kafka) as producer:
        producer.send_sync(TopicRole.ROLLOUTS, request, key=request.product)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for rec in consumer.poll(timeout_ms=500):
                event = rec.event
                if isinstance(event, RolloutEvent) and event.request_id == request.request_id:
                    on_event(event)
                    if event.state in TERMINAL:
                        return event
    raise RolloutError(
        f"request {request.request_id} not finished after {wait_s:.0f} s: is a trainer "
        "(`factoryloop train watch`) running? Its progress: `factoryloop train status` or the dashboard"
    )
