"""``server.properties`` of one node of a site's Kafka cluster: a KRaft controller, a broker, or both.

The local stack runs combined broker+controller nodes (``factoryloop.stack.kafka_config``); a site runs the
two roles as separate processes (separate systemd units), so a broker restart never costs a quorum member
(``combined`` nodes remain for small sites and the site test). The
cluster-wide settings (message sizes, replication defaults, retention) come from the stack's renderer, so the
two cannot drift; only the role, ids, listeners and data folder differ. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from factoryloop.stack.kafka_config import NodeSpec, render_server_config

# Keys the stack's renderer sets per node (role, ids, listeners, storage): rendered here per role instead.
_PER_NODE_KEYS = frozenset(
    {
        "process.roles",
        "node.id",
        "controller.quorum.voters",
        "listeners",
        "advertised.listeners",
        "controller.listener.names",
        "inter.broker.listener.name",
        "listener.security.protocol.map",
        "log.dirs",
    }
)
_REPLICATION_KEYS = (
    "default.replication.factor",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "share.coordinator.state.topic.replication.factor",
)
_MIN_ISR_KEYS = (
    "min.insync.replicas",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.min.isr",
)
_VOTER = re.compile(r"^(?P<id>\d+)@(?P<host>[A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")


class NodeRole(StrEnum):
    CONTROLLER = "controller"
    BROKER = "broker"
    COMBINED = "combined"  # broker and controller in one JVM (small sites, the site test)


@dataclass(frozen=True)
class Voter:
    """One member of the controller quorum: ``id@host:port``."""

    node_id: int
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.node_id}@{self.host}:{self.port}"


@dataclass(frozen=True)
class SiteNode:
    """What differs between the nodes of a site's cluster."""

    role: NodeRole
    node_id: int
    advertised_host: str  # the name clients (brokers) or brokers (controllers) reach this node by
    port: int  # client port of a broker or combined node, controller port of a controller
    data_dir: Path
    bind_host: str = "0.0.0.0"
    controller_port: int | None = None  # a combined node's controller port


def parse_quorum(text: str) -> list[Voter]:
    """``1@kafka-1:9093,2@kafka-2:9093,...`` as voters; ValueError naming the bad entry."""
    voters = []
    for item in (part.strip() for part in text.split(",")):
        match = _VOTER.match(item)
        if not match:
            raise ValueError(f"quorum entry {item!r} is not id@host:port")
        port = int(match["port"])
        if not 1 <= port <= 65535:
            raise ValueError(f"quorum entry {item!r}: port out of range")
        voters.append(Voter(int(match["id"]), match["host"], port))
    ids = [v.node_id for v in voters]
    if len(set(ids)) != len(ids):
        raise ValueError(f"quorum node ids repeat: {ids}")
    if not voters:
        raise ValueError("the quorum names no controller")
    return voters


def min_isr_for(replication_factor: int) -> int:
    """acks=all survives the loss of one replica: 2 of 3 (1 with a single replica)."""
    return 1 if replication_factor < 3 else 2


def cluster_defaults(replication_factor: int) -> dict[str, str]:
    """The cluster-wide settings of the stack's renderer, with this replication factor."""
    if replication_factor < 1:
        raise ValueError("replication factor must be at least 1")
    voters = [NodeSpec(i + 1, "localhost", 9092, 9093, Path("unused")) for i in range(3)]
    base = render_server_config(voters[0], voters)
    shared = {k: v for k, v in base.items() if k not in _PER_NODE_KEYS}
    for key in _REPLICATION_KEYS:
        shared[key] = str(replication_factor)
    for key in _MIN_ISR_KEYS:
        shared[key] = str(min_isr_for(replication_factor))
    return shared


def render_node_config(node: SiteNode, quorum: list[Voter], replication_factor: int = 3) -> dict[str, str]:
    """The ``server.properties`` of ``node`` (PLAINTEXT listeners: TLS/SASL come with the site's security)."""
    ids = {v.node_id for v in quorum}
    if node.role is not NodeRole.BROKER and node.node_id not in ids:
        raise ValueError(f"controller {node.node_id} is not in the quorum {','.join(map(str, quorum))}")
    if node.role is NodeRole.BROKER and node.node_id in ids:
        raise ValueError(f"broker node id {node.node_id} is a controller's id: every node needs its own")
    config = {
        "process.roles": node.role.value,
        "node.id": str(node.node_id),
        "controller.quorum.voters": ",".join(map(str, quorum)),
    }
    if node.role is NodeRole.CONTROLLER:
        config |= {
            "listeners": f"CONTROLLER://{node.bind_host}:{node.port}",
            "advertised.listeners": f"CONTROLLER://{node.advertised_host}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
        }
    elif node.role is NodeRole.COMBINED:
        if node.controller_port is None or node.controller_port == node.port:
            raise ValueError("a combined node needs its own controller port (--controller-port, e.g. 9093)")
        config |= {
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://{node.bind_host}:{node.port},CONTROLLER://{node.bind_host}:"
            f"{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{node.advertised_host}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        }
    else:
        config |= {
            "listeners": f"PLAINTEXT://{node.bind_host}:{node.port}",
            "advertised.listeners": f"PLAINTEXT://{node.advertised_host}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        }
    config["log.dirs"] = str(node.data_dir)
    return config | cluster_defaults(replication_factor)


def parse_properties(text: str) -> dict[str, str]:
    """Java properties written by ``to_properties`` (``key=value`` lines, ``#`` comments)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out
