"""The ACLs of a site's roles (pure): what each principal may write, read and join."""

from __future__ import annotations

from kafka.admin import ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourceType

from factoryloop.site.acls import default_groups, role_grants, site_acls
from factoryloop.site.security import ROLES
from factoryloop.topics import TOPIC_SPECS

P = "plant."


def grants(role: str) -> set[tuple[str, str, str]]:
    return {
        (g.operation.name, g.resource.name, g.name) for g in role_grants(role, P, default_groups(P)[role])
    }


def topics(role: str, operation: str) -> set[str]:
    return {name.removeprefix(P) for op, kind, name in grants(role) if op == operation and kind == "TOPIC"}


def test_agent_writes_its_events_reads_deployments_nothing_else() -> None:
    assert topics("agent", "WRITE") == {"frames", "outcomes", "heartbeats", "dead-letters"}
    assert topics("agent", "READ") == {"deployments"}
    assert {kind for _, kind, _ in grants("agent")} == {"TOPIC"}  # no consumer group, no cluster rights


def test_only_the_trainer_writes_deployments() -> None:
    assert [r for r in ROLES if "deployments" in topics(r, "WRITE")] == ["trainer"]
    assert topics("trainer", "WRITE") == {"deployments", "rollouts", "dead-letters"}
    assert topics("trainer", "READ") == {"frames", "outcomes", "labels", "heartbeats", "rollouts"}


def test_api_writes_labels_and_rollouts_reads_as_the_sink() -> None:
    assert topics("api", "WRITE") == {"labels", "rollouts", "dead-letters"}
    assert topics("api", "READ") == topics("sink", "READ")
    assert topics("sink", "WRITE") == {"dead-letters"}
    assert ("READ", "GROUP", "factoryloop-api-sink") in grants("api") & grants("sink")


def test_trainer_groups_follow_the_topic_prefix() -> None:
    groups = {name for op, kind, name in grants("trainer") if kind == "GROUP"}
    assert f"{P}rollout-controller" in groups and "factoryloop-ingest" in groups
    assert "factoryloop-api-sink" not in groups


def test_every_grant_is_a_prefixed_allow_for_the_roles_principal() -> None:
    acls = site_acls(P, default_groups(P), {r: f"u-{r}" for r in ROLES})
    assert acls and {a.permission_type for a in acls} == {ACLPermissionType.ALLOW}
    assert {a.resource_pattern.pattern_type for a in acls} == {ACLResourcePatternType.PREFIXED}
    assert {a.principal for a in acls} == {f"User:u-{r}" for r in ("agent", "api", "sink", "trainer")}
    assert {a.operation for a in acls} == {ACLOperation.READ, ACLOperation.WRITE}
    topic_names = {
        a.resource_pattern.resource_name
        for a in acls
        if a.resource_pattern.resource_type == ResourceType.TOPIC
    }
    assert topic_names <= {spec.name(P) for spec in TOPIC_SPECS.values()}
