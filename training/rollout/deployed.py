"""What the deployments topic says was sent last, per compaction key (``<product>/<target>``): read from its
start to its end by a new leader before it resumes a rollout from MLflow (a rollback another trainer sent
while MLflow did not answer, and never recorded, ends the rollout instead of resuming it)."""

from __future__ import annotations

import time

from kafka.errors import KafkaError

from factoryloop.errors import FactoryloopError
from factoryloop.kafka import TypedConsumer
from factoryloop.schemas import Deployment
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.errors import RolloutError
from training.rollout.join import join_watched


def latest_deployments(kafka: KafkaSettings, timeout_s: float = 30.0) -> dict[str, Deployment]:
    """Compaction key -> the newest deployment on the topic; :class:`RolloutError` when Kafka does not
    answer in ``timeout_s``."""
    try:
        consumer = TypedConsumer(kafka, [TopicRole.DEPLOYMENTS], None, auto_offset_reset="earliest")
    except (KafkaError, FactoryloopError) as exc:
        raise RolloutError(f"the deployments topic could not be read: {exc}") from exc
    try:
        join_watched(consumer, 0.0, timeout_s)
        assigned = list(consumer.raw.assignment())
        # joining polls, and a poll may already have returned (and dropped) the first records: from the start
        consumer.raw.seek_to_beginning(*assigned)
        end = consumer.raw.end_offsets(assigned)
        deadline = time.monotonic() + timeout_s
        latest: dict[str, Deployment] = {}
        while any(consumer.raw.position(tp) < end[tp] for tp in assigned):
            if time.monotonic() > deadline:
                raise RolloutError(f"the deployments topic not read to its end within {timeout_s:.0f} s")
            for rec in consumer.poll(timeout_ms=500):
                dep = rec.event
                if isinstance(dep, Deployment):
                    known = latest.get(dep.compaction_key)
                    if known is None or dep.ts >= known.ts:
                        latest[dep.compaction_key] = dep
        return latest
    except KafkaError as exc:
        raise RolloutError(f"the deployments topic could not be read: {exc}") from exc
    finally:
        consumer.close()
