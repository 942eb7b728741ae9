"""The rollout controller's two consumers: the requests (the one-partition rollouts topic, read in the
controller group: who owns it leads) and the watched topics (heartbeats, outcomes, labels: what the stages are
judged on, read by this trainer alone).

After a Kafka outage both are opened again (kafka-python may keep polling a consumer whose broker came back
without fetching anything): the watched topics from where this trainer was (what the agents buffered and sent
after the outage is judged), the requests from the group's committed offsets (those not carried out yet are
read again; the group's next rebalance says who leads)."""

from __future__ import annotations

import logging
import time
from typing import Any

from kafka import ConsumerRebalanceListener
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.errors import KafkaError

from factoryloop.kafka import Received, TypedConsumer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.rollout.join import join_watched
from training.rollout.outages import Outage

logger = logging.getLogger(__name__)

WATCHED = (TopicRole.HEARTBEATS, TopicRole.OUTCOMES, TopicRole.LABELS)


def requests_consumer(
    kafka: KafkaSettings, group_id: str, session_timeout_ms: int, listener: ConsumerRebalanceListener
) -> TypedConsumer:
    consumer = TypedConsumer(
        kafka,
        [TopicRole.ROLLOUTS],
        group_id,
        auto_offset_reset="earliest",
        partition_assignment_strategy=[StickyPartitionAssignor],
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(1000, session_timeout_ms // 4),
    )
    consumer.raw.subscribe([kafka.topics[TopicRole.ROLLOUTS]], listener=listener)
    return consumer


def watched_consumer(
    kafka: KafkaSettings, heartbeats_back_s: float, positions: dict[Any, int] | None = None
) -> TypedConsumer:
    """From now (heartbeats: from ``heartbeats_back_s`` ago), or from ``positions`` (partition -> offset)."""
    consumer = TypedConsumer(kafka, WATCHED, None, auto_offset_reset="latest")
    try:
        join_watched(consumer, heartbeats_back_s, positions=positions)
    except BaseException:
        consumer.close()
        raise
    return consumer


def reopened(
    kafka: KafkaSettings,
    group_id: str,
    session_timeout_ms: int,
    listener: ConsumerRebalanceListener,
    consumers: tuple[TypedConsumer, TypedConsumer],
) -> tuple[TypedConsumer, TypedConsumer]:
    """After a Kafka outage: both consumers opened again (the watched ones from where they were)."""
    requests, watched = consumers
    positions = positions_of(watched)
    closed(watched)
    closed(requests)
    return (
        requests_consumer(kafka, group_id, session_timeout_ms, listener),
        watched_consumer(kafka, 0.0, positions),
    )


def positions_of(consumer: TypedConsumer) -> dict[Any, int]:
    """Where ``consumer`` is (partition -> the next offset it would read)."""
    return {tp: om.offset for tp, om in consumer.consumed_offsets().items()}


def closed(consumer: TypedConsumer) -> None:
    try:
        consumer.close()
    except Exception:  # a client that lost its broker may fail to close; it is dropped anyway
        logger.debug("closing a rollout consumer failed", exc_info=True)


def polled(consumer: TypedConsumer, kafka: Outage) -> list[Received]:
    """What the consumer has; nothing while Kafka does not answer (kafka-python raises then: marked down)."""
    try:
        return consumer.poll(timeout_ms=200)
    except KafkaError as exc:
        kafka.mark_down(f"{type(exc).__name__}: {exc}")
        time.sleep(0.2)
        return []
