"""``factoryloop topics retention`` on a real broker: the dry run shows current vs wanted and changes nothing;
the real run sets ``retention.ms`` on the topics that differ (only that key: their other configs stay); the
settings override the specs (0: forever); a missing topic is reported, not created."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from kafka.admin import ConfigResource, ConfigResourceType
from typer.testing import CliRunner

from factoryloop.cli.topics import app
from factoryloop.kafka.admin import admin_client
from factoryloop.kafka.retention import (
    FOREVER,
    TopicRetentionSettings,
    apply_retention,
    plan_retention,
)
from factoryloop.settings import KafkaSettings
from factoryloop.topics import DAY_MS, TOPIC_SPECS, TopicRole
from tests.integration.api.helpers import wait_for


def configs(kafka: KafkaSettings, role: TopicRole) -> dict[str, str]:
    client = admin_client(kafka)
    try:
        got = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, kafka.topics[role])])
    finally:
        client.close()
    return {k: str(v["value"]) for k, v in got["topic"][kafka.topics[role]].items()}


def set_retention(kafka: KafkaSettings, role: TopicRole, ms: str) -> None:
    client = admin_client(kafka)
    try:
        res = ConfigResource(ConfigResourceType.TOPIC, kafka.topics[role], {"retention.ms": ms})
        assert client.alter_configs([res], incremental=True) == {"topic": {kafka.topics[role]: "OK"}}
    finally:
        client.close()
    wait_for(lambda: configs(kafka, role)["retention.ms"] == ms, 15, f"{role.value} retention {ms}")


@pytest.fixture
def drifted(kafka_settings: KafkaSettings) -> Iterator[KafkaSettings]:
    """The topics under a fresh prefix, two of them with a retention their specs do not want."""
    set_retention(kafka_settings, TopicRole.OUTCOMES, str(3 * DAY_MS))
    set_retention(kafka_settings, TopicRole.LABELS, str(DAY_MS))
    yield kafka_settings


def test_plan_and_apply(drifted: KafkaSettings) -> None:
    names, specs = drifted.topics, TopicRetentionSettings()
    client = admin_client(drifted)
    try:
        plan = {p.topic: p for p in plan_retention(client, names, specs)}
        assert names[TopicRole.DEPLOYMENTS] not in plan  # compacted: no time retention
        assert {t for t, p in plan.items() if p.differs} == {
            names[TopicRole.OUTCOMES],
            names[TopicRole.LABELS],
        }
        assert plan[names[TopicRole.OUTCOMES]].current == str(3 * DAY_MS)
        assert plan[names[TopicRole.FRAMES]].current == TOPIC_SPECS[TopicRole.FRAMES].configs["retention.ms"]
        before = configs(drifted, TopicRole.OUTCOMES)
        changed = apply_retention(client, list(plan.values()))
        assert {p.topic for p in changed} == {names[TopicRole.OUTCOMES], names[TopicRole.LABELS]}
        again = plan_retention(client, names, specs)
        assert not [p for p in again if p.differs]
    finally:
        client.close()
    after = configs(drifted, TopicRole.OUTCOMES)
    assert after["retention.ms"] == TOPIC_SPECS[TopicRole.OUTCOMES].configs["retention.ms"]
    assert after["max.message.bytes"] == before["max.message.bytes"]  # only retention.ms changed
    assert configs(drifted, TopicRole.LABELS)["retention.ms"] == FOREVER


def test_cli_dry_run_then_apply(
    drifted: KafkaSettings,
    monkeypatch: pytest.MonkeyPatch,
    kafka_settings_factory: Callable[..., KafkaSettings],
) -> None:
    monkeypatch.setenv("FACTORYLOOP_KAFKA_TOPIC_PREFIX", drifted.topic_prefix)
    monkeypatch.setenv("FACTORYLOOP_TOPIC_RETENTION_HEARTBEATS_DAYS", "2")
    args = ["retention", "--bootstrap", drifted.bootstrap_servers]
    dry = CliRunner().invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.count("would change") == 3 and "dry run" in dry.output
    assert configs(drifted, TopicRole.HEARTBEATS)["retention.ms"] == str(7 * DAY_MS)  # unchanged
    real = CliRunner().invoke(app, args)
    assert real.exit_code == 0 and real.output.count("changed") == 3, real.output
    assert configs(drifted, TopicRole.HEARTBEATS)["retention.ms"] == str(2 * DAY_MS)
    assert CliRunner().invoke(app, args).output.count("changed") == 0  # nothing left to change

    empty = kafka_settings_factory(create_topics=False)  # a prefix with no topics: reported, not created
    monkeypatch.setenv("FACTORYLOOP_KAFKA_TOPIC_PREFIX", empty.topic_prefix)
    missing = CliRunner().invoke(app, args)
    assert missing.exit_code == 0 and missing.output.count("missing: factoryloop topics") == 6, missing.output
