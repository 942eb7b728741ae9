"""The topics' wanted retention: the specs, overridden by FACTORYLOOP_TOPIC_RETENTION_<ROLE>_DAYS (0:
forever); the compacted deployments topic has none. (The broker side: tests/integration/ops/.)"""

from __future__ import annotations

import pytest

from factoryloop.kafka.retention import (
    FOREVER,
    TopicRetention,
    TopicRetentionSettings,
    days_of,
    retention_specs,
    wanted_retention_ms,
)
from factoryloop.topics import DAY_MS, TOPIC_SPECS, TopicRole


@pytest.mark.parametrize(
    ("env", "role", "want"),
    [
        ({"FACTORYLOOP_TOPIC_RETENTION_OUTCOMES_DAYS": "14"}, TopicRole.OUTCOMES, str(14 * DAY_MS)),
        ({"FACTORYLOOP_TOPIC_RETENTION_FRAMES_DAYS": "0"}, TopicRole.FRAMES, FOREVER),
        ({"FACTORYLOOP_TOPIC_RETENTION_DEAD_LETTERS_DAYS": "0.5"}, TopicRole.DEAD_LETTERS, str(DAY_MS // 2)),
        ({}, TopicRole.HEARTBEATS, TOPIC_SPECS[TopicRole.HEARTBEATS].configs["retention.ms"]),
    ],
)
def test_settings_override_the_specs(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], role: TopicRole, want: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert wanted_retention_ms(role, TopicRetentionSettings()) == want
    assert wanted_retention_ms(TopicRole.DEPLOYMENTS, TopicRetentionSettings()) is None


def test_topics_init_creates_what_the_settings_want() -> None:
    specs = {s.role: s for s in retention_specs(TopicRetentionSettings(outcomes_days=14))}
    assert specs[TopicRole.OUTCOMES].configs["retention.ms"] == str(14 * DAY_MS)
    assert (
        specs[TopicRole.OUTCOMES].configs["max.message.bytes"]
        == TOPIC_SPECS[TopicRole.OUTCOMES].configs["max.message.bytes"]
    )
    assert specs[TopicRole.DEPLOYMENTS] == TOPIC_SPECS[TopicRole.DEPLOYMENTS]
    assert specs[TopicRole.FRAMES] == TOPIC_SPECS[TopicRole.FRAMES]


@pytest.mark.parametrize(
    ("current", "wanted", "differs", "shown"),
    [
        (None, "-1", False, "missing"),  # no topic: nothing to change (topics init creates it)
        ("-1", "-1", False, "forever"),
        (str(7 * DAY_MS), str(14 * DAY_MS), True, "7 d"),
        ("604800000", "604800000", False, "7 d"),
    ],
)
def test_differs_and_days(current: str | None, wanted: str, differs: bool, shown: str) -> None:
    assert TopicRetention("t", current, wanted).differs is differs
    assert days_of(current) == shown
