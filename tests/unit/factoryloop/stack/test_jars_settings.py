"""Jar fetching (pom, idempotence, missing tools), settings and port helpers: no services started."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from factoryloop.stack.errors import JarsMissingError, PortInUseError, ToolMissingError
from factoryloop.stack.jars import fetch_kafka_jars, jars_present, render_pom, require_jars
from factoryloop.stack.process import check_ports, free_ports, port_free
from factoryloop.stack.settings import StackSettings

REPO = Path(__file__).resolve().parents[4]


def test_deploy_pom_is_the_rendered_pom() -> None:
    assert (REPO / "deploy" / "local" / "pom.xml").read_text() == render_pom("4.1.2")


def test_fetch_is_a_no_op_when_jars_are_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kafka_2.13-4.1.2.jar").write_bytes(b"")
    (tmp_path / ".complete").write_text("4.1.2\n")
    monkeypatch.setenv("PATH", "")  # no mvn reachable: a call would fail
    assert fetch_kafka_jars(tmp_path, "4.1.2") == tmp_path
    assert jars_present(tmp_path)


@pytest.mark.parametrize(
    ("call", "error", "hint"),
    [
        (lambda d: fetch_kafka_jars(d, "4.1.2"), ToolMissingError, "apt-get install maven"),
        (require_jars, JarsMissingError, "factoryloop stack fetch"),
    ],
)
def test_missing_tools_and_jars_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: object, error: type[Exception], hint: str
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(error, match=hint):
        call(tmp_path)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("env", "attr", "expected"),
    [
        ({}, "kafka_bootstrap", "127.0.0.1:9092"),
        ({}, "mlflow_uri", "http://127.0.0.1:5000"),
        ({"FACTORYLOOP_STACK_KAFKA_PORT": "19999"}, "kafka_bootstrap", "127.0.0.1:19999"),
        ({"FACTORYLOOP_STACK_MLFLOW_PORT": "5555"}, "mlflow_uri", "http://127.0.0.1:5555"),
        ({"FACTORYLOOP_HOME": "/x"}, "state_dir", Path("/x/stack")),
        ({"FACTORYLOOP_HOME": "/x"}, "jars_dir", Path("/x/jars/kafka-4.1.2")),
        ({"FACTORYLOOP_STACK_JARS": "/j"}, "jars_dir", Path("/j")),
    ],
)
def test_settings_from_env(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], attr: str, expected: object
) -> None:
    for key in ("FACTORYLOOP_HOME", "FACTORYLOOP_STACK_KAFKA_PORT", "FACTORYLOOP_STACK_MLFLOW_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("FACTORYLOOP_STACK_JARS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert getattr(StackSettings(), attr) == expected


def test_taken_port_is_reported_with_its_owner() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_free("127.0.0.1", port)
        with pytest.raises(PortInUseError, match=rf"port {port} \(MLflow\).*pid \d+.*FACTORYLOOP_STACK_"):
            check_ports("127.0.0.1", {"MLflow": port})
    assert port_free("127.0.0.1", port)


def test_free_ports_are_distinct() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6
