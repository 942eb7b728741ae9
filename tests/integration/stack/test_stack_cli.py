"""``factoryloop stack`` end to end in a temporary FACTORYLOOP_HOME on free ports, as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from factoryloop.stack.process import free_ports, pid_alive

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow]


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from factoryloop.cli import main; main()", "stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def stack_env(tmp_path: Path, kafka_jars: Path) -> Iterator[dict[str, str]]:
    kafka, controller, mlflow, api = free_ports(4)
    env = dict(os.environ)
    env.update(
        FACTORYLOOP_HOME=str(tmp_path / "home"),
        FACTORYLOOP_STACK_JARS=str(kafka_jars),
        FACTORYLOOP_STACK_KAFKA_PORT=str(kafka),
        FACTORYLOOP_STACK_CONTROLLER_PORT=str(controller),
        FACTORYLOOP_STACK_MLFLOW_PORT=str(mlflow),
        FACTORYLOOP_STACK_API_PORT=str(api),
    )
    env.pop("FACTORYLOOP_KAFKA_TOPIC_PREFIX", None)
    yield env
    _cli(env, "down")


def _processes_under(path: str) -> list[int]:
    """Live processes whose command line mentions ``path``."""
    pids = []
    path = path.replace(" ", "\0")  # /proc/PID/cmdline separates arguments with NUL
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if path in cmd and pid_alive(int(proc.name)):
                pids.append(int(proc.name))
    return pids


def test_up_status_down_and_data_survives_restart(stack_env: dict[str, str]) -> None:
    bootstrap = f"127.0.0.1:{stack_env['FACTORYLOOP_STACK_KAFKA_PORT']}"
    up = _cli(stack_env, "up")
    assert up.returncode == 0, up.stderr
    assert f"kafka: started at {bootstrap}" in up.stdout
    assert "mlflow: started at http://127.0.0.1:" in up.stdout
    api_uri = f"http://127.0.0.1:{stack_env['FACTORYLOOP_STACK_API_PORT']}"
    assert f"api: started at {api_uri}" in up.stdout

    status = _cli(stack_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("healthy") == 3 and bootstrap in status.stdout and api_uri in status.stdout

    again = _cli(stack_env, "up")
    assert again.returncode == 0 and "already running" in again.stdout

    topic = f"persist-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    assert "factoryloop.frames" in admin.list_topics()  # created by `up`
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, b"before restart").get(timeout=30)
    producer.close()

    down = _cli(stack_env, "down")
    assert down.returncode == 0 and "kafka: stopped" in down.stdout and "mlflow: stopped" in down.stdout
    assert "api: stopped" in down.stdout
    assert _processes_under(stack_env["FACTORYLOOP_HOME"]) == []
    assert (
        _processes_under(f"api serve --host 127.0.0.1 --port {stack_env['FACTORYLOOP_STACK_API_PORT']}") == []
    )
    assert _cli(stack_env, "status").returncode == 1

    restart = _cli(stack_env, "up", "--no-mlflow")  # --no-mlflow implies no API
    assert restart.returncode == 0, restart.stderr
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    values = [r.value for batch in consumer.poll(timeout_ms=20_000).values() for r in batch]
    consumer.close()
    assert values == [b"before restart"]

    logs = _cli(stack_env, "logs", "kafka", "-n", "5")
    assert logs.returncode == 0 and "kafka.log" in logs.stdout


def test_taken_port_is_a_clear_error(stack_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(stack_env["FACTORYLOOP_STACK_KAFKA_PORT"])))
        sock.listen()
        result = _cli(stack_env, "up", "--no-mlflow")
    assert result.returncode == 1
    port = stack_env["FACTORYLOOP_STACK_KAFKA_PORT"]
    assert f"error: port {port} (Kafka node 1 client listener) on 127.0.0.1 is already in use by pid" in (
        result.stderr
    )
    assert "FACTORYLOOP_STACK_KAFKA_PORT" in result.stderr
    assert _processes_under(stack_env["FACTORYLOOP_HOME"]) == []
