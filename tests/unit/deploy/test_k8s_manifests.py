"""deploy/k8s: the manifests parse, carry what a site needs, and agree with the code.

Checked offline here: YAML structure and required fields of every resource, topics equal to TOPIC_SPECS
(RF 3, min ISR 2), the Kafka config equal to the stack's cluster defaults, probes on the API's real health
route, resources on every container, secrets only through secretKeyRef, env names that are settings fields,
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

from api.routes import API_PREFIX
from factoryloop.site.env_names import unknown_names
from factoryloop.site.k8s import kafka_topics, render
from factoryloop.site.kafka_node import cluster_defaults
from factoryloop.topics import TOPIC_SPECS

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
FILES = sorted(K8S.glob("*.yaml"))
CORE_KINDS = {"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service", "CronJob"}
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic"}


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
    if doc["kind"] in {"KafkaNodePool", "KafkaTopic"}:
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


def test_secret_references_exist_in_the_example() -> None:
    secrets = {s["metadata"]["name"]: set(s["stringData"]) for s in _docs(K8S / "secrets.example.yaml")}
    for deployment, container in _containers():
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                assert ref["key"] in secrets.get(ref["name"], set()), f"{deployment}: {ref}"


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
