"""A site's Kafka from the systemd units' command lines: a KRaft controller and a broker, two processes.

``factoryloop deploy kafka-config`` writes each node's config; ``factoryloop deploy kafka-run`` (the units'
ExecStart) formats the storage and execs the JVM. The broker then serves factoryloop's topics, and a restarted
broker keeps its data (no second format). On 127.0.0.1 with RF 1: one broker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from factoryloop.kafka.admin import ensure_topics
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka import broker_count
from factoryloop.stack.process import free_ports, port_open
from factoryloop.topics import TOPIC_SPECS

pytestmark = pytest.mark.kafka
CLI = [sys.executable, "-m", "factoryloop.cli", "deploy"]


def _cli(*args: str) -> str:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


class Node:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.config = config
        self.env = env
        self.log = config.parent / "run.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*CLI, "kafka-run", "--config", str(self.config)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.killpg(self.proc.pid, signal.SIGTERM)  # what systemd sends
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_broker(bootstrap: str, nodes: list[Node], timeout_s: float = 150.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        for n in nodes:
            assert n.proc is not None and n.proc.poll() is None, f"{n.config} exited:\n{n.text()[-3000:]}"
        host, port = bootstrap.split(":")
        if port_open(host, int(port)) and broker_count(bootstrap, timeout_ms=3000) >= 1:
            return time.monotonic() - started
        time.sleep(1.0)
    raise AssertionError("broker not ready:\n" + "\n".join(n.text()[-2000:] for n in nodes))


@pytest.fixture
def site(tmp_path: Path, kafka_jars: Path) -> Iterator[tuple[str, Node, Node]]:
    bport, cport = free_ports(2)
    cluster_id = _cli("kafka-cluster-id").strip()
    common = ["--quorum", f"1@127.0.0.1:{cport}", "--host", "127.0.0.1", "--bind", "127.0.0.1"]
    common += ["--replication-factor", "1", "--cluster-id", cluster_id]
    for role, node_id, port in (("controller", 1, cport), ("broker", 2, bport)):
        _cli(
            "kafka-config",
            "--role",
            role,
            "--node-id",
            str(node_id),
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / f"kafka-{role}" / "data"),
            "--out",
            str(tmp_path / role / "server.properties"),
            *common,
        )
    env = dict(os.environ)
    env |= {"FACTORYLOOP_STACK_JARS": str(kafka_jars), "FACTORYLOOP_STACK_KAFKA_HEAP": "-Xms128m -Xmx320m"}
    controller = Node(tmp_path / "controller" / "server.properties", env)
    broker = Node(tmp_path / "broker" / "server.properties", env)
    try:
        controller.start()
        broker.start()
        yield f"127.0.0.1:{bport}", controller, broker
    finally:
        for node in (broker, controller):
            with contextlib.suppress(Exception):
                node.stop()


def test_controller_and_broker_from_the_units_commands(site: tuple[str, Node, Node]) -> None:
    bootstrap, controller, broker = site
    started = datetime.now(UTC)
    ready_s = _wait_broker(bootstrap, [controller, broker])
    assert broker.proc is not None
    cmdline = Path(f"/proc/{broker.proc.pid}/cmdline").read_bytes().split(b"\0")
    assert b"kafka.Kafka" in cmdline, "kafka-run must exec the JVM (systemd then signals java itself)"

    settings = KafkaSettings(bootstrap_servers=bootstrap)
    created = ensure_topics(settings, replication_factor=1)
    assert set(created) == {spec.name() for spec in TOPIC_SPECS.values()}
    health = subprocess.run(
        [*CLI, "kafka-health", "--bootstrap", bootstrap, "--brokers", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert health.returncode == 0 and "under-replicated 0" in health.stdout, health.stdout + health.stderr
    # docs/operations.md lowers the outcomes retention with the jars' ConfigCommand.
    jars = broker.env["FACTORYLOOP_STACK_JARS"]
    alter = ["--alter", "--entity-type", "topics", "--entity-name", settings.topics.outcomes]
    alter += ["--add-config", "retention.ms=1209600000"]
    configs = subprocess.run(
        ["java", "-cp", f"{jars}/*", "kafka.admin.ConfigCommand", "--bootstrap-server", bootstrap, *alter],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert configs.returncode == 0, configs.stdout + configs.stderr
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(settings.topics.outcomes, b"kept", key=b"line-1").get(timeout=30)
    producer.close()

    stopping = time.monotonic()
    assert broker.stop() in (0, 143)  # the unit's SuccessExitStatus=143
    stop_s = time.monotonic() - stopping
    broker.start()
    restart_s = _wait_broker(bootstrap, [controller, broker])
    assert broker.text().count("already formatted") == 1  # the restart did not format again
    consumer = KafkaConsumer(
        settings.topics.outcomes,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=30000,
        group_id="restored-store",
        enable_auto_commit=False,
    )
    values = []
    for record in consumer:  # stops at the first record (or after 30 s without one)
        values.append(record.value)
        consumer.commit()
        break
    consumer.close()
    assert values == [b"kept"]

    # A store restored from a backup taken before the record: rewind the stopped group to the backup's time.
    rewind = subprocess.run(
        [
            *CLI,
            "kafka-rewind",
            "--group",
            "restored-store",
            "--since",
            started.isoformat(),
            "--bootstrap",
            bootstrap,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rewind.returncode == 0, rewind.stdout + rewind.stderr
    assert f"{settings.topics.outcomes}-{record.partition}: 0" in rewind.stdout, rewind.stdout
    print(f"ready in {ready_s:.1f}s, broker stopped in {stop_s:.1f}s, back in {restart_s:.1f}s")
