"""Per-role Kafka ACLs of a site, applied with kafka-python's admin client as the site's admin (a super user).

Topics are matched as PREFIXED patterns on ``<topic_prefix><role topic>`` (the installation's topic names),
consumer groups as PREFIXED patterns on the group names each process uses. Everything not granted is denied
(``allow.everyone.if.no.acl.found=false`` on the brokers). READ and WRITE imply DESCRIBE; WRITE on a topic
also allows the idempotent producer's InitProducerId (KIP-679), so no cluster ACL is needed.

Every role that consumes with :class:`factoryloop.kafka.TypedConsumer` may write dead letters: it sends what
it cannot decode there before committing past it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

from factoryloop.kafka.admin import admin_client
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)

T = TopicRole
SINK_READS = (T.OUTCOMES, T.FRAMES, T.HEARTBEATS, T.DEPLOYMENTS, T.LABELS, T.ROLLOUTS)  # api.sink.SINK_ROLES
SINK_GROUP = "factoryloop-api-sink"  # ApiSettings.sink_group_id's default
TRAINER_READS = (T.FRAMES, T.OUTCOMES, T.LABELS, T.HEARTBEATS, T.ROLLOUTS)

# role -> (topics written, topics read)
TOPIC_GRANTS: dict[str, tuple[tuple[TopicRole, ...], tuple[TopicRole, ...]]] = {
    "agent": ((T.FRAMES, T.OUTCOMES, T.HEARTBEATS, T.DEAD_LETTERS), (T.DEPLOYMENTS,)),
    "api": ((T.LABELS, T.ROLLOUTS, T.DEAD_LETTERS), SINK_READS),
    "sink": ((T.DEAD_LETTERS,), SINK_READS),
    "trainer": ((T.DEPLOYMENTS, T.ROLLOUTS, T.DEAD_LETTERS), TRAINER_READS),
    "admin": ((), ()),  # a super user: no ACL needed
}


def default_groups(topic_prefix: str) -> dict[str, list[str]]:
    """Consumer group prefixes per role. The agent reads deployments without a group (assign, no commits)."""
    return {
        "agent": [],
        "api": [SINK_GROUP],
        "sink": [SINK_GROUP],
        # training: ingest, drift triggers, a canary's own groups, the rollout controller's leader group
        "trainer": [
            "factoryloop-ingest",
            "factoryloop-triggers",
            "factoryloop-canary-",
            f"{topic_prefix}rollout-controller",
        ],
        "admin": [],
    }


@dataclass(frozen=True)
class Grant:
    """One ALLOW rule: ``operation`` on the resources whose names start with ``name``."""

    resource: ResourceType
    name: str
    operation: ACLOperation

    def acl(self, principal: str) -> ACL:
        pattern = ResourcePattern(self.resource, self.name, ACLResourcePatternType.PREFIXED)
        return ACL(f"User:{principal}", "*", self.operation, ACLPermissionType.ALLOW, pattern)

    def __str__(self) -> str:
        return f"{self.operation.name} {self.resource.name.lower()} {self.name}*"


def role_grants(role: str, topic_prefix: str, groups: list[str]) -> list[Grant]:
    """What ``role`` may do: write and read its topics, read (join, commit) its consumer groups."""
    writes, reads = TOPIC_GRANTS[role]
    out = [Grant(ResourceType.TOPIC, f"{topic_prefix}{t.value}", ACLOperation.WRITE) for t in writes]
    out += [Grant(ResourceType.TOPIC, f"{topic_prefix}{t.value}", ACLOperation.READ) for t in reads]
    out += [Grant(ResourceType.GROUP, g, ACLOperation.READ) for g in groups]
    return out


def site_acls(topic_prefix: str, groups: dict[str, list[str]], principals: dict[str, str]) -> list[ACL]:
    """Every role's ACLs; ``principals`` maps role -> SCRAM user name."""
    return [
        grant.acl(principals[role])
        for role in TOPIC_GRANTS
        for grant in role_grants(role, topic_prefix, groups.get(role, []))
    ]


def apply_acls(admin: KafkaSettings, acls: list[ACL]) -> int:
    """Create ``acls`` (creating an existing one is a no-op on the broker); return how many were sent."""
    client = admin_client(admin)
    try:
        result = client.create_acls(acls)
    finally:
        client.close()
    failed = result.get("failed", [])
    if failed:
        raise RuntimeError(f"{len(failed)} ACLs were refused by the brokers: {failed}")
    logger.info("%d ACLs in place on %s", len(acls), admin.bootstrap_servers)
    return len(acls)


def list_acls(admin: KafkaSettings) -> list[ACL]:
    """Every ACL on the cluster (for checks and ``factoryloop site acls --show``)."""
    any_pattern = ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)
    acl_filter = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY, any_pattern)
    client = admin_client(admin)
    try:
        acls, error = client.describe_acls(acl_filter)
    finally:
        client.close()
    if error is not None and error.errno != 0:
        raise RuntimeError(f"describe ACLs failed: {error}")
    return list(acls)
