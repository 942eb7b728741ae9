"""The canary controller: canary agents first, watch them for a window, then the whole fleet or roll back.

The watcher joins the heartbeats/outcomes/labels topics at their end *before* the canary is published, so it
sees everything the canary agents report and nothing older.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import FLEET_KEY, Deployment, Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.errors import RolloutError
from training.registry.models import CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout.join import join_watched
from training.rollout.publish import deployment_for, publish
from training.rollout.watch import CanaryPolicy, CanaryWatch

logger = logging.getLogger(__name__)

WATCHED = (TopicRole.HEARTBEATS, TopicRole.OUTCOMES, TopicRole.LABELS)


@dataclass(frozen=True)
class RolloutResult:
    outcome: str  # "full", "rolled_back" or "halted" (failed, and no previous model to go back to)
    reasons: list[str]
    canary: Deployment
    final: Deployment | None
    observed: dict[str, object] = field(default_factory=dict)


def run_canary(
    kafka: KafkaSettings,
    version: RegisteredVersion,
    previous: RegisteredVersion | None,
    *,
    canary_agents: Sequence[str],
    policy: CanaryPolicy,
    target: str = FLEET_KEY,
    registry: ModelRegistry | None = None,
    product: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RolloutResult:
    """Roll ``version`` out through a canary; on failure publish a rollback to ``previous`` and say why."""
    if not canary_agents:
        raise RolloutError("a canary needs at least one canary agent id")
    consumer = TypedConsumer(
        kafka, WATCHED, f"factoryloop-canary-{uuid.uuid4().hex[:12]}", auto_offset_reset="latest"
    )
    prev_version = previous.version if previous else None
    try:
        join_watched(consumer, 0.0)  # from the end: nothing older than the canary is judged
        canary = deployment_for(
            version,
            target=target,
            strategy=Strategy.CANARY,
            canary_agents=canary_agents,
            previous_version=prev_version,
            reason=f"canary on {', '.join(canary_agents)}",
        )
        watch = CanaryWatch(frozenset(canary_agents), version.version, canary.deployment_id, policy)
        with EventProducer(kafka) as producer:
            publish(producer, canary)
            deadline = clock() + policy.window_s
            while clock() < deadline and not watch.failures():
                for rec in consumer.poll(timeout_ms=500):
                    watch.observe(rec.event)
            problems = watch.problems()
            final, outcome = _finish(producer, version, previous, problems, target)
    finally:
        consumer.close()
    observed = {
        "serving": sorted(watch.serving),
        "canary_outcomes": len(watch.outcomes),
        "reviews": len(watch.reviews),
    }
    result = RolloutResult(outcome, problems, canary, final, observed)
    if registry is not None and product is not None:
        _record(registry, product, version, previous, result)
    return result


def _finish(
    producer: EventProducer,
    version: RegisteredVersion,
    previous: RegisteredVersion | None,
    problems: list[str],
    target: str,
) -> tuple[Deployment | None, str]:
    prev_version = previous.version if previous else None
    if not problems:
        full = deployment_for(
            version,
            target=target,
            strategy=Strategy.FULL,
            previous_version=prev_version,
            reason="canary healthy",
        )
        publish(producer, full)
        return full, "full"
    why = "; ".join(problems)
    if previous is None:
        logger.error(
            "canary of %s v%s failed (%s) and there is no previous model", version.name, version.version, why
        )
        return None, "halted"
    back = deployment_for(
        previous,
        target=target,
        strategy=Strategy.ROLLBACK,
        previous_version=version.version,
        reason=f"canary v{version.version} failed: {why}",
    )
    publish(producer, back)
    logger.warning("rolled back %s v%s -> v%s: %s", version.name, version.version, previous.version, why)
    return back, "rolled_back"


def _record(
    registry: ModelRegistry,
    product: str,
    version: RegisteredVersion,
    previous: RegisteredVersion | None,
    result: RolloutResult,
) -> None:
    registry.tag(
        product,
        version.version,
        {
            "rollout.decision": result.outcome,
            "rollout.reason": ("; ".join(result.reasons) or "canary healthy")[:4000],
        },
    )
    if result.outcome == "rolled_back" and previous is not None:
        registry.set_alias(product, CHAMPION, previous.version)
