"""``factoryloop topics retention``: give the existing topics the retention their specs and settings want.

The wanted ``retention.ms`` of a topic is its :data:`factoryloop.topics.TOPIC_SPECS` value, unless the
site sets ``FACTORYLOOP_TOPIC_RETENTION_<ROLE>_DAYS`` (0: forever). ``topics init`` creates topics with these
values but leaves existing ones as they are; this command compares each topic's current value
(describe_configs) with the wanted one and, unless dry, changes the ones that differ with an incremental
alter_configs (only ``retention.ms`` changes; the topic's other settings stay). The compacted deployments
topic has no time retention and is not touched. On Kubernetes the Strimzi topic operator owns the topics'
configs (``deploy/k8s/kafka-topics.yaml``): change them there, not with this command.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryloop.errors import FactoryloopError
from factoryloop.topics import DAY_MS, TOPIC_SPECS, TopicNames, TopicRole, TopicSpec

logger = logging.getLogger(__name__)

KEY = "retention.ms"
FOREVER = "-1"


class TopicRetentionSettings(BaseSettings):
    """Days each topic keeps its records (``FACTORYLOOP_TOPIC_RETENTION_FRAMES_DAYS``, ...). Unset: the value
    of ``TOPIC_SPECS`` (frames 7, outcomes 90, heartbeats 7, dead letters 30, rollouts 365, labels forever);
    0: forever."""

    model_config = SettingsConfigDict(env_prefix="FACTORYLOOP_TOPIC_RETENTION_", frozen=True, extra="ignore")

    frames_days: float | None = Field(default=None, ge=0)
    outcomes_days: float | None = Field(default=None, ge=0)
    labels_days: float | None = Field(default=None, ge=0)
    heartbeats_days: float | None = Field(default=None, ge=0)
    dead_letters_days: float | None = Field(default=None, ge=0)
    rollouts_days: float | None = Field(default=None, ge=0)


class TopicRetentionError(FactoryloopError):
    """The cluster refused a topic's new retention; the message names the topic and the broker's reason."""


def wanted_retention_ms(role: TopicRole, settings: TopicRetentionSettings) -> str | None:
    """The ``retention.ms`` the topic should have; None: a compacted topic, no time retention."""
    spec = TOPIC_SPECS[role]
    if KEY not in spec.configs:
        return None
    days = getattr(settings, f"{role.value.replace('-', '_')}_days", None)
    if days is None:
        return spec.configs[KEY]
    return FOREVER if days == 0 else str(round(days * DAY_MS))


def retention_specs(settings: TopicRetentionSettings) -> list[TopicSpec]:
    """:data:`TOPIC_SPECS` with the site's retention (what ``topics init`` creates)."""
    out = []
    for role, spec in TOPIC_SPECS.items():
        ms = wanted_retention_ms(role, settings)
        out.append(spec if ms is None else spec.with_configs(**{KEY: ms}))
    return out


def days_of(ms: str | None) -> str:
    if ms is None:
        return "missing"
    if int(ms) < 0:
        return "forever"
    return f"{int(ms) / DAY_MS:g} d"


@dataclass(frozen=True, slots=True)
class TopicRetention:
    topic: str
    current: str | None  # None: the topic does not exist (run `factoryloop topics init`)
    wanted: str

    @property
    def differs(self) -> bool:
        return self.current is not None and int(self.current) != int(self.wanted)


def plan_retention(
    client: KafkaAdminClient, names: TopicNames, settings: TopicRetentionSettings
) -> list[TopicRetention]:
    """Each time-retained topic's current and wanted ``retention.ms``."""
    wanted = {
        names[role]: ms for role in TopicRole if (ms := wanted_retention_ms(role, settings)) is not None
    }
    existing = set(client.list_topics())
    present = [t for t in wanted if t in existing]
    current = _current(client, present) if present else {}
    return [TopicRetention(t, current.get(t) if t in existing else None, ms) for t, ms in wanted.items()]


def apply_retention(
    client: KafkaAdminClient, plan: list[TopicRetention], timeout_s: float = 15.0
) -> list[TopicRetention]:
    """Set ``retention.ms`` on each topic whose value differs; returns those changed, once they read back
    their new value (up to ``timeout_s``)."""
    todo = [p for p in plan if p.differs]
    if not todo:
        return []
    resources = [ConfigResource(ConfigResourceType.TOPIC, p.topic, {KEY: p.wanted}) for p in todo]
    try:
        result = client.alter_configs(resources, incremental=True)
    except KafkaError as exc:
        raise TopicRetentionError(f"cannot change the topics' retention: {exc}") from exc
    failed = {t: r for t, r in result.get("topic", {}).items() if r != "OK"}
    if failed:
        raise TopicRetentionError(
            "the cluster refused the new retention of "
            + "; ".join(f"{t}: {r}" for t, r in sorted(failed.items()))
            + " (the client's principal needs ALTER_CONFIGS on the topics)"
        )
    for p in todo:
        logger.info("%s: retention.ms %s -> %s", p.topic, p.current, p.wanted)
    _await_visible(client, todo, timeout_s)
    return todo


def _current(client: KafkaAdminClient, topics: list[str]) -> dict[str, str]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, t, {KEY: None}) for t in topics]
    try:
        described = client.describe_configs(resources, config_filter="all")
    except KafkaError as exc:
        raise TopicRetentionError(f"cannot read the topics' retention: {exc}") from exc
    return {t: str(c[KEY]["value"]) for t, c in described.get("topic", {}).items() if KEY in c}


def _await_visible(client: KafkaAdminClient, changed: list[TopicRetention], timeout_s: float) -> None:
    """The brokers apply a change from the metadata log a moment after the controller accepted it: wait until
    each changed topic reads back its new value (a warning, not an error, if one does not in time)."""
    deadline = time.monotonic() + timeout_s
    waiting = {p.topic: p.wanted for p in changed}
    while waiting:
        now = _current(client, list(waiting))
        waiting = {t: ms for t, ms in waiting.items() if now.get(t) is None or int(now[t]) != int(ms)}
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if waiting:
        logger.warning("the new retention of %s does not read back after %.0f s", sorted(waiting), timeout_s)
