"""The site's Kafka node configs: separate controller and broker roles on the stack's cluster defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryloop.cli.deploy import app
from factoryloop.site.kafka_node import (
    NodeRole,
    SiteNode,
    Voter,
    cluster_defaults,
    parse_properties,
    parse_quorum,
    render_node_config,
)
from factoryloop.site.kafka_run import run_command
from factoryloop.stack.kafka_config import MAX_MESSAGE_BYTES, NodeSpec, render_server_config

QUORUM = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1@kafka-1", "not id@host:port"),
        ("x@kafka-1:9093", "not id@host:port"),
        ("1@kafka-1:99999", "out of range"),
        ("1@a:9093,1@b:9093", "repeat"),
    ],
)
def test_bad_quorum_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_quorum(text)


def test_quorum_round_trips() -> None:
    voters = parse_quorum(QUORUM)
    assert voters[1] == Voter(2, "kafka-2", 9093)
    assert ",".join(map(str, voters)) == QUORUM


@pytest.mark.parametrize(
    ("role", "node_id", "port", "expected"),
    [
        (
            NodeRole.CONTROLLER,
            2,
            9093,
            {
                "process.roles": "controller",
                "listeners": "CONTROLLER://0.0.0.0:9093",
                "advertised.listeners": "CONTROLLER://kafka-2:9093",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
            },
        ),
        (
            NodeRole.BROKER,
            102,
            9092,
            {
                "process.roles": "broker",
                "listeners": "PLAINTEXT://0.0.0.0:9092",
                "advertised.listeners": "PLAINTEXT://kafka-2:9092",
                "inter.broker.listener.name": "PLAINTEXT",
                "controller.listener.names": "CONTROLLER",
            },
        ),
    ],
)
def test_role_config(role: NodeRole, node_id: int, port: int, expected: dict[str, str]) -> None:
    node = SiteNode(role, node_id, "kafka-2", port, Path("/var/lib/factoryloop/kafka/data"))
    config = render_node_config(node, parse_quorum(QUORUM))
    assert config | expected == config
    assert config["node.id"] == str(node_id)
    assert config["controller.quorum.voters"] == QUORUM
    assert config["log.dirs"] == "/var/lib/factoryloop/kafka/data"
    assert config["default.replication.factor"] == "3"
    assert config["min.insync.replicas"] == "2"
    assert config["message.max.bytes"] == str(MAX_MESSAGE_BYTES)
    if role is NodeRole.CONTROLLER:
        assert "inter.broker.listener.name" not in config


def test_cluster_defaults_are_the_stacks() -> None:
    """Everything but the per-node keys comes from the local stack's renderer (one source of truth)."""
    voters = [NodeSpec(i + 1, "h", 9092, 9093, Path("d")) for i in range(3)]
    stack = render_server_config(voters[0], voters)
    site = cluster_defaults(3)
    assert {k: stack[k] for k in site} == site
    assert cluster_defaults(1)["min.insync.replicas"] == "1"


@pytest.mark.parametrize(
    ("role", "node_id", "error"),
    [(NodeRole.CONTROLLER, 7, "not in the quorum"), (NodeRole.BROKER, 1, "controller's id")],
)
def test_node_ids_are_checked(role: NodeRole, node_id: int, error: str) -> None:
    node = SiteNode(role, node_id, "h", 9092, Path("d"))
    with pytest.raises(ValueError, match=error):
        render_node_config(node, parse_quorum(QUORUM))


def _config_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "kafka-config",
        "--role",
        "broker",
        "--node-id",
        "101",
        "--quorum",
        QUORUM,
        "--host",
        "kafka-1",
        "--data-dir",
        "/var/lib/factoryloop/kafka-broker/data",
        "--out",
        str(tmp_path / "broker" / "server.properties"),
        *extra,
    ]


def test_cli_writes_config_once(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, _config_args(tmp_path, "--cluster-id", "abcDEF123"))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "broker"
    props = parse_properties((folder / "server.properties").read_text())
    assert props["process.roles"] == "broker"
    assert props["advertised.listeners"] == "PLAINTEXT://kafka-1:9092"
    assert (folder / "cluster-id").read_text().strip() == "abcDEF123"
    assert "rootLogger" in (folder / "log4j2.properties").read_text()
    again = runner.invoke(app, _config_args(tmp_path))
    assert again.exit_code == 1 and "not overwritten" in again.output
    assert runner.invoke(app, [*_config_args(tmp_path), "--force"]).exit_code == 0


def test_cli_refuses_a_bad_role(tmp_path: Path) -> None:
    args = _config_args(tmp_path)
    args[args.index("broker")] = "both"
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "both" in result.output


def test_run_command_is_the_stacks_jvm(tmp_path: Path) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / ".complete").write_text("4.1.2\n")
    (jars / "kafka_2.13-4.1.2.jar").write_bytes(b"")
    config = tmp_path / "broker" / "server.properties"
    cmd = run_command(config, jars, "-Xms1g -Xmx1g")
    assert cmd[1:3] == ["-Xms1g", "-Xmx1g"]
    assert f"-Dlog4j2.configurationFile={tmp_path / 'broker' / 'log4j2.properties'}" in cmd
    assert cmd[-4:] == ["-cp", f"{jars}/*", "kafka.Kafka", str(config)]
