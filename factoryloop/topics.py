"""Kafka topic names and their specs (partitions, retention, message size, cleanup policy).

The set of topics is fixed; their names get an optional prefix (``FACTORYLOOP_KAFKA_TOPIC_PREFIX``) so several
installations or test runs can share one cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

DAY_MS = 24 * 3600 * 1000
MIB = 1024 * 1024


class TopicRole(StrEnum):
    FRAMES = "frames"
    OUTCOMES = "outcomes"
    LABELS = "labels"
    DEPLOYMENTS = "deployments"
    HEARTBEATS = "heartbeats"
    DEAD_LETTERS = "dead-letters"
    ROLLOUTS = "rollouts"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    role: TopicRole
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)

    def name(self, prefix: str = "factoryloop.") -> str:
        return f"{prefix}{self.role.value}"

    def with_configs(self, **overrides: str) -> TopicSpec:
        return replace(self, configs={**self.configs, **overrides})


# Frames are JPEGs of up to a few MiB (a 1280x1024 frame at quality 95 is ~0.5 MiB); 16 MiB leaves room.
FRAME_MAX_BYTES = 16 * MIB

TOPIC_SPECS: dict[TopicRole, TopicSpec] = {
    TopicRole.FRAMES: TopicSpec(
        TopicRole.FRAMES,
        partitions=6,
        configs={
            "retention.ms": str(7 * DAY_MS),
            "max.message.bytes": str(FRAME_MAX_BYTES),
            "segment.bytes": str(256 * MIB),
        },
    ),
    TopicRole.OUTCOMES: TopicSpec(
        TopicRole.OUTCOMES,
        partitions=6,
        configs={"retention.ms": str(90 * DAY_MS), "max.message.bytes": str(MIB)},
    ),
    # Labels are training data: kept forever.
    TopicRole.LABELS: TopicSpec(
        TopicRole.LABELS, partitions=3, configs={"retention.ms": "-1", "max.message.bytes": str(MIB)}
    ),
    # One record per target (line id or "fleet") survives compaction: the current deployment.
    TopicRole.DEPLOYMENTS: TopicSpec(
        TopicRole.DEPLOYMENTS,
        partitions=1,
        configs={
            "cleanup.policy": "compact",
            "min.cleanable.dirty.ratio": "0.1",
            "segment.ms": str(3600 * 1000),
            "max.message.bytes": str(MIB),
        },
    ),
    TopicRole.HEARTBEATS: TopicSpec(
        TopicRole.HEARTBEATS,
        partitions=3,
        configs={"retention.ms": str(7 * DAY_MS), "max.message.bytes": str(MIB)},
    ),
    # A dead frame is kept base64 inside JSON: 4/3 of the frame size.
    TopicRole.DEAD_LETTERS: TopicSpec(
        TopicRole.DEAD_LETTERS,
        partitions=1,
        configs={"retention.ms": str(30 * DAY_MS), "max.message.bytes": str(FRAME_MAX_BYTES * 3 // 2)},
    ),
    # Rollout requests and the controller's transitions (factoryloop.schemas.rollouts). One partition: one
    # product's story in order, and the trainer that owns the partition in its group is the one that acts.
    TopicRole.ROLLOUTS: TopicSpec(
        TopicRole.ROLLOUTS,
        partitions=1,
        configs={"retention.ms": str(365 * DAY_MS), "max.message.bytes": str(MIB)},
    ),
}


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Resolved topic names for one installation (prefix applied)."""

    prefix: str = "factoryloop."

    def __getitem__(self, role: TopicRole) -> str:
        return TOPIC_SPECS[role].name(self.prefix)

    @property
    def frames(self) -> str:
        return self[TopicRole.FRAMES]

    @property
    def outcomes(self) -> str:
        return self[TopicRole.OUTCOMES]

    @property
    def labels(self) -> str:
        return self[TopicRole.LABELS]

    @property
    def deployments(self) -> str:
        return self[TopicRole.DEPLOYMENTS]

    @property
    def heartbeats(self) -> str:
        return self[TopicRole.HEARTBEATS]

    @property
    def dead_letters(self) -> str:
        return self[TopicRole.DEAD_LETTERS]

    @property
    def rollouts(self) -> str:
        return self[TopicRole.ROLLOUTS]

    def role_of(self, topic: str) -> TopicRole:
        for role in TopicRole:
            if self[role] == topic:
                return role
        raise KeyError(f"topic {topic!r} is not one of factoryloop's topics (prefix {self.prefix!r})")
