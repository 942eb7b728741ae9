"""Render KRaft ``server.properties`` for a single combined node or a 3-node cluster of combined nodes.

Pure functions: no I/O, so the rendered configuration is unit-tested table-driven.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # JPEG frames travel in records: allow up to 16 MiB batches.


@dataclass(frozen=True)
class NodeSpec:
    """One combined broker+controller node."""

    node_id: int
    host: str
    port: int
    controller_port: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def voter(self) -> str:
        return f"{self.node_id}@{self.host}:{self.controller_port}"


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID as unpadded URL-safe base64 (as ``kafka-storage random-uuid``)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


def render_server_config(node: NodeSpec, voters: list[NodeSpec]) -> dict[str, str]:
    """The ``server.properties`` of ``node`` in a quorum of ``voters`` (static ``controller.quorum.voters``).

    One voter: replication factor 1. Three or more: RF 3 with min.insync.replicas=2, so acks=all survives the
    loss of one node.
    """
    if node not in voters:
        raise ValueError(f"node {node.node_id} is not among the voters")
    replicas = 1 if len(voters) < 3 else 3
    min_isr = 1 if replicas == 1 else 2
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": ",".join(v.voter for v in voters),
        "listeners": f"PLAINTEXT://{node.host}:{node.port},CONTROLLER://{node.host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{node.host}:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        "num.partitions": "3",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.retention.hours": "168",
    }


def to_properties(config: dict[str, str]) -> str:
    """Java properties text, keys in insertion order."""
    lines = ["# Rendered by factoryloop.stack.kafka_config; edits are overwritten on the next start."]
    lines += [f"{key}={value}" for key, value in config.items()]
    return "\n".join(lines) + "\n"


LOG4J2_PROPERTIES = """\
# log4j2 configuration of the factoryloop local Kafka: all to stdout (redirected to the node's log file).
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""
