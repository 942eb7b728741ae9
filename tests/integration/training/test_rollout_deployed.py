"""What the deployments topic says was sent last (read by a new leader before it resumes a rollout): every
deployment counts, even those the consumer's join already fetched (a CI run resumed a canary another
trainer had rolled back, because the join's poll had returned, and dropped, the rollback)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.support.events import deployment
from training.rollout import deployed
from training.rollout.deployed import latest_deployments

pytestmark = pytest.mark.kafka


def _publish(kafka: KafkaSettings) -> None:
    t0 = datetime.now(UTC)
    sent = [
        deployment(
            deployment_id=f"{i:032x}",
            product="widget",
            target=target,
            model_version=v,
            ts=t0 + timedelta(seconds=i),
            **more,
        )
        for i, (target, v, more) in enumerate(
            [
                ("line-1", "3", {"strategy": Strategy.CANARY, "canary_agents": ("agent-a",)}),
                ("line-2", "2", {}),
                ("line-1", "1", {"strategy": Strategy.ROLLBACK, "previous_version": "3"}),
            ]
        )
    ]
    with EventProducer(kafka) as producer:
        for dep in sent:
            producer.send_sync(TopicRole.DEPLOYMENTS, dep, key=dep.compaction_key)


@pytest.mark.parametrize("join_fetches", [False, True], ids=["join-returns-nothing", "join-returns-records"])
def test_the_newest_deployment_per_key(
    kafka_settings: KafkaSettings, monkeypatch: pytest.MonkeyPatch, join_fetches: bool
) -> None:
    _publish(kafka_settings)
    if join_fetches:  # the join's poll returns every record (what a loaded machine sees now and then)
        join = deployed.join_watched

        def fetching_join(consumer: TypedConsumer, *args: Any, **kwargs: Any) -> None:
            join(consumer, *args, **kwargs)
            got, deadline = 0, time.monotonic() + 10.0
            while got < 3 and time.monotonic() < deadline:  # (the join itself may have fetched them)
                got += len(consumer.poll(timeout_ms=500))

        monkeypatch.setattr(deployed, "join_watched", fetching_join)

    latest = latest_deployments(kafka_settings)

    assert {k: (d.model_version, d.strategy) for k, d in latest.items()} == {
        "widget/line-1": ("1", Strategy.ROLLBACK),
        "widget/line-2": ("2", Strategy.FULL),
    }
