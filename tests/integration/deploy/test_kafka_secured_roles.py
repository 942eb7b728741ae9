"""A secured site's Kafka from the units' commands: ``factoryloop deploy kafka-config --site`` writes a KRaft
controller's and a broker's configs from a ``factoryloop site init`` folder, ``factoryloop deploy kafka-run``
formats each storage with the site's SCRAM users and execs the JVM. The admin then creates the topics and
ACLs (``site acls``), an agent writes an outcome over TLS + SCRAM, and its write to deployments is refused;
an agent env file written by ``deploy k8s-agent-env`` from Secrets holding this site's agent material works.
On 127.0.0.1 with RF 1: one controller (mutual TLS on its listener), one broker.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from factoryloop.errors import KafkaNotAuthorizedError
from factoryloop.kafka import EventProducer
from factoryloop.site.security import CA_CERT, Site
from factoryloop.stack.kafka import broker_count
from factoryloop.stack.process import free_ports
from factoryloop.topics import TopicRole
from tests.integration.deploy.test_kafka_roles import Node
from tests.support import events
from tests.unit.site.test_k8s_agent_env import settings_from_env_file

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]
CLI = [sys.executable, "-m", "factoryloop.cli"]


def _cli(*args: str) -> str:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def secured(tmp_path: Path, kafka_jars: Path) -> Iterator[tuple[Site, Node, Node]]:
    bport, cport = free_ports(2)
    root = tmp_path / "site"
    _cli("site", "init", str(root), "--broker", f"127.0.0.1:{bport}", "--controller", "127.0.0.1")
    site = Site.load(root)
    cluster_id = _cli("deploy", "kafka-cluster-id").strip()
    common = ["--quorum", f"1@127.0.0.1:{cport}", "--host", "127.0.0.1", "--bind", "127.0.0.1"]
    common += ["--replication-factor", "1", "--cluster-id", cluster_id, "--site", str(root)]
    for role, node_id, port in (("controller", 1, cport), ("broker", 2, bport)):
        _cli(
            "deploy", "kafka-config", "--role", role, "--node-id", str(node_id), "--port", str(port),
            "--data-dir", str(tmp_path / f"kafka-{role}" / "data"),
            "--out", str(tmp_path / role / "server.properties"), *common,
        )  # fmt: skip
    env = dict(os.environ)
    env |= {"FACTORYLOOP_STACK_JARS": str(kafka_jars), "FACTORYLOOP_STACK_KAFKA_HEAP": "-Xms128m -Xmx320m"}
    controller = Node(tmp_path / "controller" / "server.properties", env)
    broker = Node(tmp_path / "broker" / "server.properties", env)
    try:
        controller.start()
        broker.start()
        yield site, controller, broker
    finally:
        for node in (broker, controller):
            with contextlib.suppress(Exception):
                node.stop()


def test_a_secured_controller_and_broker_from_the_site_folder(secured: tuple[Site, Node, Node]) -> None:
    site, controller, broker = secured
    probe = site.broker_security().client_config()  # the admin over SASL_SSL
    deadline = time.monotonic() + 240
    while broker_count(site.bootstrap, timeout_ms=3000, client_config=probe) < 1:
        for node in (controller, broker):
            assert node.proc is not None and node.proc.poll() is None, (
                f"{node.config}:\n{node.text()[-3000:]}"
            )
        assert time.monotonic() < deadline, broker.text()[-3000:] + controller.text()[-3000:]
        time.sleep(1.0)
    for node in (controller, broker):
        assert "formatted the storage" in node.text() and "(6 SCRAM users)" in node.text(), node.text()[
            -2000:
        ]
    _cli("site", "acls", str(site.root), "--replication-factor", "1")
    agent = site.kafka_settings("agent")
    outcome = events.outcome()
    deadline = time.monotonic() + 60
    while True:  # ACLs reach the broker asynchronously; a refused producer is dropped, as the agent does
        with EventProducer(agent) as producer:
            try:
                producer.send_sync(TopicRole.OUTCOMES, outcome)
                break
            except KafkaNotAuthorizedError:
                assert time.monotonic() < deadline, "the agent's outcomes ACL never applied"
        time.sleep(0.5)
    with (
        EventProducer(agent) as producer,
        pytest.raises(KafkaNotAuthorizedError, match="user 'agent' is not allowed to write"),
    ):
        producer.send_sync(TopicRole.DEPLOYMENTS, events.deployment(), key="fleet")

    # The env file `deploy k8s-agent-env` writes from a cluster's Secrets works on a TLS + SCRAM listener:
    # here the Secrets carry this site's agent password, CA and signing key.
    out = site.root.parent / "k8s-agent"
    files = _k8s_secrets(site, site.root.parent)
    _cli(
        "deploy", "k8s-agent-env", "--user-secret", str(files[0]), "--ca-secret", str(files[1]),
        "--trainer-secret", str(files[2]), "--bootstrap", site.bootstrap, "--out", str(out),
        "--install-dir", str(out), "--username", "agent", "--prefix", agent.topic_prefix,
    )  # fmt: skip
    with EventProducer(settings_from_env_file(out / "agent.env")) as producer:
        producer.send_sync(TopicRole.OUTCOMES, events.outcome())


def _k8s_secrets(site: Site, folder: Path) -> list[Path]:
    """The three Secrets as ``kubectl get secret -o json`` prints them (base64 ``data``)."""
    env = site.env("agent")
    values = [
        ("factoryloop-kafka-agent", {"password": env["FACTORYLOOP_KAFKA_SASL_PASSWORD"]}),
        ("factoryloop-cluster-ca-cert", {"ca.crt": (site.root / CA_CERT).read_text()}),
        ("factoryloop-trainer", {"signing-key": env["FACTORYLOOP_AGENT_SIGNING_KEY"]}),
    ]
    paths = []
    for name, data in values:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        path = folder / f"{name}.json"
        path.write_text(json.dumps({"kind": "Secret", "metadata": {"name": name}, "data": encoded}))
        paths.append(path)
    return paths
