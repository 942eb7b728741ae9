"""deploy/k8s: the manifests parse, carry what a site needs, and agree with the code.

Checked offline here: YAML structure and required fields of every resource, topics equal to TOPIC_SPECS
(RF 3, min ISR 2), the Kafka config equal to the stack's cluster defaults, the secured mode (one TLS + SCRAM
listener, simple authorization, a KafkaUser per role whose ACLs are ``site_acls``, every client Deployment on
that listener as its role's user with the password and cluster CA from Strimzi's Secrets), probes on the API's
real health route, resources on every container, secrets only through secretKeyRef, env names that are
settings fields,
``kubectl kustomize`` when kubectl is installed, and the core kinds against the Kubernetes JSON schemas when
``kubernetes-validate`` (PyPI) is on PATH. Not checked here: the Strimzi resources against Strimzi's CRD
schemas (in no package registry reachable here; see docs/operations.md), and nothing is applied to a cluster.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
)
from typer.testing import CliRunner

from api.routes import API_PREFIX
from factoryloop.cli.deploy import app as deploy_app
from factoryloop.errors import ConfigError
from factoryloop.settings import KafkaSettings
from factoryloop.site import k8s
from factoryloop.site.acls import TOPIC_GRANTS, default_groups, site_acls
from factoryloop.site.env_names import unknown_names
from factoryloop.site.k8s import USERS_HEADER, kafka_topics, kafka_users, render, user_name
from factoryloop.site.kafka_node import cluster_defaults
from factoryloop.topics import TOPIC_SPECS

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
FILES = sorted(K8S.glob("*.yaml"))
CORE_KINDS = {"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service", "CronJob"}
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
# Deployment -> the role whose Kafka user it connects as; every other Deployment must not talk to Kafka.
CLIENTS = {"factoryloop-api": "api", "factoryloop-sink": "sink", "factoryloop-trainer": "trainer"}
NOT_CLIENTS = {"factoryloop-mlflow"}
# Secrets Strimzi writes (not in secrets.example.yaml): the cluster CA and each KafkaUser's credentials.
CLUSTER_CA_KEYS = {"ca.crt", "ca.p12", "ca.password"}
USER_SECRET_KEYS = {"password", "sasl.jaas.config"}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


ALL = [(p.name, d) for p in FILES if p.name != "kustomization.yaml" for d in _docs(p)]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in ALL if d["kind"] == kind]


def _containers() -> list[tuple[str, dict[str, Any]]]:
    return [
        (dep["metadata"]["name"], c)
        for dep in _of_kind("Deployment")
        for c in dep["spec"]["template"]["spec"]["containers"]
    ]


@pytest.mark.parametrize(
    ("name", "doc"), ALL, ids=[f"{n}:{d['kind']}:{d['metadata']['name']}" for n, d in ALL]
)
def test_every_resource_has_the_required_fields(name: str, doc: dict[str, Any]) -> None:
    assert doc["kind"] in CORE_KINDS | STRIMZI_KINDS, name
    assert doc["apiVersion"], name
    assert doc["metadata"]["name"], name
    if doc["kind"] in STRIMZI_KINDS:
        assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2"
    if doc["kind"] in {"KafkaNodePool", "KafkaTopic", "KafkaUser"}:
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "factoryloop"
    if doc["kind"] == "Deployment":
        spec = doc["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        mounts = {m["name"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
        assert mounts == {v["name"] for v in pod.get("volumes", [])}, doc["metadata"]["name"]


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    expected = {p.name for p in FILES} - {"kustomization.yaml", "secrets.example.yaml"}
    assert set(kustomization["resources"]) == expected


def test_topics_are_generated_from_the_specs() -> None:
    assert (K8S / "kafka-topics.yaml").read_text() == render(kafka_topics()), (
        "regenerate: factoryloop deploy k8s-topics --out deploy/k8s/kafka-topics.yaml"
    )
    topics = {t["spec"]["topicName"]: t["spec"] for t in _of_kind("KafkaTopic")}
    assert set(topics) == {spec.name() for spec in TOPIC_SPECS.values()}
    for spec in TOPIC_SPECS.values():
        topic = topics[spec.name()]
        assert (topic["partitions"], topic["replicas"], topic["config"]["min.insync.replicas"]) == (
            spec.partitions,
            3,
            2,
        )
        assert {k: str(v) for k, v in topic["config"].items() if k in spec.configs} == spec.configs


# Strimzi's AclRule spelling -> kafka-python's, written out here (not taken from the generator) so that a
# wrong mapping in factoryloop/site/k8s.py fails the comparison with site_acls below.
_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.CLUSTER}
_PATTERN = {"prefix": ACLResourcePatternType.PREFIXED, "literal": ACLResourcePatternType.LITERAL}
_PERMISSION = {"allow": ACLPermissionType.ALLOW, "deny": ACLPermissionType.DENY}
_OPERATION = {"Read": ACLOperation.READ, "Write": ACLOperation.WRITE, "Describe": ACLOperation.DESCRIBE}


def _acls_of(user: dict[str, Any]) -> list[ACL]:
    """A KafkaUser's rules as the ACLs the User Operator creates (principal User:<metadata.name>)."""
    out = []
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        pattern = ResourcePattern(
            _RESOURCE[resource["type"]],
            resource.get("name"),
            _PATTERN[resource.get("patternType", "literal")],
        )
        for op in rule["operations"]:
            out.append(
                ACL(
                    f"User:{user['metadata']['name']}",
                    rule.get("host", "*"),
                    _OPERATION[op],
                    _PERMISSION[rule.get("type", "allow")],
                    pattern,
                )
            )
    return out


def _key(acl: ACL) -> tuple[str, str, str, str, str, str | None, str]:
    p = acl.resource_pattern
    return (acl.principal, acl.host, acl.operation.name, acl.permission_type.name, p.resource_type.name,
            p.resource_name, p.pattern_type.name)  # fmt: skip


def _users() -> dict[str, dict[str, Any]]:
    return {u["metadata"]["name"]: u for u in _of_kind("KafkaUser")}


def test_users_file_is_the_generators_output(tmp_path: Path) -> None:
    assert (K8S / "kafka-users.yaml").read_text() == render(kafka_users(), USERS_HEADER), (
        "regenerate: factoryloop deploy k8s-users --out deploy/k8s/kafka-users.yaml"
    )
    out = tmp_path / "users.yaml"
    result = CliRunner().invoke(deploy_app, ["k8s-users", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (K8S / "kafka-users.yaml").read_text()


@pytest.mark.parametrize("role", list(TOPIC_GRANTS))
def test_each_roles_user_has_the_site_acls(role: str) -> None:
    """The ACLs Strimzi creates for a role's user are exactly those ``factoryloop site acls`` creates."""
    prefix = "factoryloop."
    principals = {r: user_name(r) for r in TOPIC_GRANTS}
    expected = sorted(
        _key(a)
        for a in site_acls(prefix, default_groups(prefix), principals)
        if a.principal == f"User:{user_name(role)}"
    )
    users = _users()
    if not expected:  # admin: a super user on a systemd site; on Kubernetes Strimzi's operators do its job
        assert user_name(role) not in users
        return
    user = users[user_name(role)]
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    assert user["spec"]["authorization"]["type"] == "simple"
    assert sorted(_key(a) for a in _acls_of(user)) == expected


def test_users_are_exactly_the_roles_with_acls() -> None:
    acls = site_acls("factoryloop.", default_groups("factoryloop."), {r: user_name(r) for r in TOPIC_GRANTS})
    assert set(_users()) == {a.principal.removeprefix("User:") for a in acls}
    assert set(CLIENTS.values()) <= {r for r in TOPIC_GRANTS if user_name(r) in _users()}


@pytest.mark.parametrize(
    ("resource", "operation"),
    [
        (ResourceType.DELEGATION_TOKEN, ACLOperation.DESCRIBE),  # no Strimzi resource type
        (ResourceType.TOPIC, ACLOperation.CREATE_TOKENS),  # no Strimzi operation
    ],
    ids=["resource", "operation"],
)
def test_an_acl_strimzi_cannot_express_is_refused(
    resource: ResourceType, operation: ACLOperation, monkeypatch: pytest.MonkeyPatch
) -> None:
    pattern = ResourcePattern(resource, "x", ACLResourcePatternType.LITERAL)
    odd = ACL("User:x", "*", operation, ACLPermissionType.ALLOW, pattern)
    monkeypatch.setattr(k8s, "site_acls", lambda *_: [odd])
    with pytest.raises(ConfigError, match="no Strimzi KafkaUser form"):
        kafka_users()


def _kafka() -> dict[str, Any]:
    (kafka,) = _of_kind("Kafka")
    return kafka


def _tls_port() -> int:
    """The port of the in-cluster listener the Deployments use."""
    (listener,) = [li for li in _kafka()["spec"]["kafka"]["listeners"] if li["type"] == "internal"]
    return int(listener["port"])


def test_kafka_is_secured_tls_scram_and_acls_only() -> None:
    spec = _kafka()["spec"]["kafka"]
    # an internal listener for the cluster's pods and an external one for the line PCs, both TLS + SCRAM:
    # no plaintext or unauthenticated way in
    listeners = {
        li["name"]: (li["type"], li["port"], li["tls"], li["authentication"]) for li in spec["listeners"]
    }
    assert listeners == {
        "tls": ("internal", 9093, True, {"type": "scram-sha-512"}),
        "external": ("loadbalancer", 9094, True, {"type": "scram-sha-512"}),
    }
    assert spec["authorization"] == {"type": "simple"}  # no superUsers: no factoryloop user bypasses ACLs
    assert spec["config"].get("allow.everyone.if.no.acl.found", False) is False


def _env(container: dict[str, Any]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The container's variables as the pod sees them (ConfigMap, then env), and its secretKeyRefs."""
    (config,) = _of_kind("ConfigMap")
    values = dict(config["data"])
    refs = {}
    for var in container.get("env", []):
        if "value" in var:
            values[var["name"]] = var["value"]
        else:
            values.pop(var["name"], None)
            refs[var["name"]] = var["valueFrom"]["secretKeyRef"]
    return values, refs


def _deployment(name: str) -> dict[str, Any]:
    (dep,) = [d for d in _of_kind("Deployment") if d["metadata"]["name"] == name]
    return dep


def test_every_deployment_is_a_known_client_or_not_one() -> None:
    assert {d["metadata"]["name"] for d in _of_kind("Deployment")} == set(CLIENTS) | NOT_CLIENTS
    for name in NOT_CLIENTS:
        for container in _deployment(name)["spec"]["template"]["spec"]["containers"]:
            assert not [
                v["name"] for v in container.get("env", []) if v["name"].startswith("FACTORYLOOP_KAFKA")
            ]


@pytest.mark.parametrize(("deployment", "role"), CLIENTS.items())
def test_client_deployment_connects_as_its_role_over_tls(
    deployment: str, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = _deployment(deployment)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    values, refs = _env(container)
    assert refs["FACTORYLOOP_KAFKA_SASL_PASSWORD"] == {
        "name": user_name(role),
        "key": "password",
    }  # not optional
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FACTORYLOOP_KAFKA_SASL_PASSWORD", "from-the-secret")
    settings = KafkaSettings()  # what the process reads from these names
    cluster = _kafka()["metadata"]["name"]
    assert settings.bootstrap_servers == f"{cluster}-kafka-bootstrap:{_tls_port()}"
    assert (settings.security_protocol, settings.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert settings.sasl_username == user_name(role)
    assert settings.client_config()["sasl_plain_password"] == "from-the-secret"
    # the CA file lies in a read-only mount of Strimzi's cluster CA Secret, as that Secret's ca.crt
    assert settings.ssl_cafile is not None
    (mount,) = [m for m in container["volumeMounts"] if settings.ssl_cafile.parent == Path(m["mountPath"])]
    assert mount.get("readOnly") is True and "subPath" not in mount
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == f"{cluster}-cluster-ca-cert"
    assert {"key": "ca.crt", "path": settings.ssl_cafile.name} in volume["secret"]["items"]


def test_kafka_is_kraft_with_separate_roles_and_the_stacks_config() -> None:
    (kafka,) = _of_kind("Kafka")
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/node-pools": "enabled",
        "strimzi.io/kraft": "enabled",
    }
    defaults = cluster_defaults(3)
    config = {k: str(v).lower() for k, v in kafka["spec"]["kafka"]["config"].items()}
    assert config == {k: defaults[k] for k in config}
    for key in (
        "auto.create.topics.enable",
        "default.replication.factor",
        "min.insync.replicas",
        "message.max.bytes",
    ):
        assert key in config
    pools = {p["metadata"]["name"]: p["spec"] for p in _of_kind("KafkaNodePool")}
    assert {name: (p["roles"], p["replicas"]) for name, p in pools.items()} == {
        "controllers": (["controller"], 3),
        "brokers": (["broker"], 3),
    }


def test_probes_use_the_apis_health_route() -> None:
    (api,) = [c for name, c in _containers() if name == "factoryloop-api"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"]["path"] == f"{API_PREFIX}/health"
    (mlflow,) = [c for name, c in _containers() if name == "factoryloop-mlflow"]
    assert mlflow["readinessProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize(("deployment", "container"), _containers(), ids=[n for n, _ in _containers()])
def test_containers(deployment: str, container: dict[str, Any]) -> None:
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"] and resources["limits"]["memory"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"]["drop"] == ["ALL"]
    assert security["allowPrivilegeEscalation"] is False
    names = set()
    for var in container.get("env", []):
        names.add(var["name"])
        if any(w in var["name"] for w in ("PASSWORD", "PEPPER", "TOKEN", "KEY", "DATABASE_URL", "STORE_URI")):
            assert "value" not in var and "secretKeyRef" in var["valueFrom"], f"{deployment}: {var['name']}"
    assert not unknown_names(names - {"HOME"}), deployment
    assert [e["configMapRef"]["name"] for e in container["envFrom"]] == ["factoryloop-site"]


def test_config_map_names_are_settings_and_hold_no_secret() -> None:
    (config,) = _of_kind("ConfigMap")
    names = set(config["data"])
    assert not unknown_names(names)
    assert all(isinstance(v, str) for v in config["data"].values())  # a ConfigMap holds strings only
    assert not [n for n in names if any(w in n for w in ("PASSWORD", "PEPPER", "TOKEN", "SIGNING_KEY"))]


def test_secret_references_exist_in_the_example_or_strimzi() -> None:
    secrets = {s["metadata"]["name"]: set(s["stringData"]) for s in _docs(K8S / "secrets.example.yaml")}
    secrets |= {name: USER_SECRET_KEYS for name in _users()}
    secrets[f"{_kafka()['metadata']['name']}-cluster-ca-cert"] = CLUSTER_CA_KEYS
    for deployment, container in _containers():
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                assert ref["key"] in secrets.get(ref["name"], set()), f"{deployment}: {ref}"
    for dep in _of_kind("Deployment"):
        for volume in dep["spec"]["template"]["spec"].get("volumes", []):
            if "secret" in volume:
                keys = {i["key"] for i in volume["secret"]["items"]}
                assert keys <= secrets.get(volume["secret"]["secretName"], set()), dep["metadata"]["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_renders() -> None:
    proc = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert len(rendered) == len(ALL) - len(_docs(K8S / "secrets.example.yaml"))
    assert {d["metadata"].get("namespace") for d in rendered if d["kind"] != "Namespace"} == {"factoryloop"}


@pytest.mark.skipif(
    shutil.which("kubernetes-validate") is None,
    reason="kubernetes-validate not on PATH (pip install kubernetes-validate, in a separate venv)",
)
def test_core_kinds_against_the_kubernetes_schemas(tmp_path: Path) -> None:
    core = [d for _, d in ALL if d["kind"] in CORE_KINDS]
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump_all(core))
    proc = subprocess.run(
        ["kubernetes-validate", "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
