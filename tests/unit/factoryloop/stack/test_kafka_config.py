"""Rendered KRaft configuration: single node and 3-node cluster, table-driven."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from factoryloop.stack.kafka_config import NodeSpec, new_cluster_id, render_server_config, to_properties


def _specs(count: int, tmp: Path = Path("/data")) -> list[NodeSpec]:
    return [
        NodeSpec(i + 1, "127.0.0.1", 9092 + 10 * i, 9093 + 10 * i, tmp / f"n{i + 1}") for i in range(count)
    ]


SINGLE = render_server_config(_specs(1)[0], _specs(1))
CLUSTER = [render_server_config(spec, _specs(3)) for spec in _specs(3)]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("process.roles", "broker,controller"),
        ("node.id", "1"),
        ("controller.quorum.voters", "1@127.0.0.1:9093"),
        ("listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"),
        ("advertised.listeners", "PLAINTEXT://127.0.0.1:9092"),
        ("controller.listener.names", "CONTROLLER"),
        ("log.dirs", "/data/n1"),
        ("num.partitions", "3"),
        ("default.replication.factor", "1"),
        ("min.insync.replicas", "1"),
        ("offsets.topic.replication.factor", "1"),
        ("transaction.state.log.replication.factor", "1"),
        ("transaction.state.log.min.isr", "1"),
        ("auto.create.topics.enable", "false"),
        ("group.initial.rebalance.delay.ms", "0"),
        ("message.max.bytes", "16777216"),
        ("replica.fetch.max.bytes", "16777216"),
        ("log.cleaner.dedupe.buffer.size", "16777216"),
    ],
)
def test_single_node_config(key: str, value: str) -> None:
    assert SINGLE[key] == value


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("controller.quorum.voters", "1@127.0.0.1:9093,2@127.0.0.1:9103,3@127.0.0.1:9113"),
        ("default.replication.factor", "3"),
        ("min.insync.replicas", "2"),
        ("offsets.topic.replication.factor", "3"),
        ("transaction.state.log.replication.factor", "3"),
        ("transaction.state.log.min.isr", "2"),
        ("share.coordinator.state.topic.replication.factor", "3"),
        ("auto.create.topics.enable", "false"),
    ],
)
def test_cluster_config_shared_keys(key: str, value: str) -> None:
    assert {cfg[key] for cfg in CLUSTER} == {value}


@pytest.mark.parametrize(
    ("index", "node_id", "listeners", "log_dir"),
    [
        (0, "1", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093", "/data/n1"),
        (1, "2", "PLAINTEXT://127.0.0.1:9102,CONTROLLER://127.0.0.1:9103", "/data/n2"),
        (2, "3", "PLAINTEXT://127.0.0.1:9112,CONTROLLER://127.0.0.1:9113", "/data/n3"),
    ],
)
def test_cluster_config_per_node(index: int, node_id: str, listeners: str, log_dir: str) -> None:
    cfg = CLUSTER[index]
    assert (cfg["node.id"], cfg["listeners"], cfg["log.dirs"]) == (node_id, listeners, log_dir)


def test_node_must_be_a_voter() -> None:
    with pytest.raises(ValueError, match="not among the voters"):
        render_server_config(_specs(3)[0], _specs(1, Path("/other")))


def test_properties_text_round_trips() -> None:
    text = to_properties(SINGLE)
    parsed = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert parsed == SINGLE


def test_cluster_id_is_16_bytes_urlsafe_base64() -> None:
    cid = new_cluster_id()
    assert len(cid) == 22 and "=" not in cid
    assert len(base64.urlsafe_b64decode(cid + "==")) == 16
    assert new_cluster_id() != cid
