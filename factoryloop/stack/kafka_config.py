"""Render KRaft ``server.properties`` for a single combined node or a 3-node cluster of combined nodes.

Pure functions: no I/O, so the rendered configuration is unit-tested table-driven.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass, field
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


# --- secured mode: TLS + SASL/SCRAM-SHA-512 + ACLs (the keys and passwords come from a site folder) ---------

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
BROKER_CERT_PRINCIPAL = "factoryloop-broker"  # CN of every broker certificate (controller listener, mTLS)


@dataclass(frozen=True)
class ScramUser:
    """A SCRAM-SHA-512 principal created when the storage is formatted."""

    name: str
    password: str = field(repr=False)

    def format_arg(self, salt: bytes | None = None) -> str:
        """``--add-scram`` value with a salted password: the clear one never reaches a command line."""
        salt = os.urandom(24) if salt is None else salt
        salted = hashlib.pbkdf2_hmac("sha512", self.password.encode(), salt, SCRAM_ITERATIONS)
        return (
            f"{SCRAM_MECHANISM}=[name={self.name},iterations={SCRAM_ITERATIONS},"
            f'salt="{base64.b64encode(salt).decode()}",saltedpassword="{base64.b64encode(salted).decode()}"]'
        )


@dataclass(frozen=True)
class BrokerSecurity:
    """What a secured node needs: its PKCS12 keystore, the CA (PEM truststore), the inter-broker and admin
    principals (super users) and the SCRAM users to create at format time."""

    ca_file: Path
    keystores: dict[int, Path]  # node id -> PKCS12 keystore (key + chain)
    keystore_password: str = field(repr=False)
    inter_broker: ScramUser
    admin: ScramUser
    users: tuple[ScramUser, ...] = ()  # the role principals (inter_broker and admin are added to these)

    @property
    def all_users(self) -> tuple[ScramUser, ...]:
        seen = {u.name: u for u in (self.inter_broker, self.admin, *self.users)}
        return tuple(seen.values())

    @property
    def super_users(self) -> tuple[str, ...]:
        return (BROKER_CERT_PRINCIPAL, self.inter_broker.name, self.admin.name)

    def client_config(self, user: ScramUser | None = None) -> dict[str, str]:
        """kafka-python settings of a SASL_SSL client (default: the admin), e.g. the readiness probe."""
        user = self.admin if user is None else user
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": user.name,
            "sasl_plain_password": user.password,
            "ssl_cafile": str(self.ca_file),
        }


def scram_format_args(sec: BrokerSecurity) -> list[str]:
    """``kafka-storage format`` arguments that create every SCRAM user of ``sec`` (salted, fresh salts)."""
    return [arg for user in sec.all_users for arg in ("--add-scram", user.format_arg())]


def secure_server_config(config: dict[str, str], node: NodeSpec, sec: BrokerSecurity) -> dict[str, str]:
    """``config`` (from :func:`render_server_config`) secured with node ``node``'s keystore: see
    :func:`secure_config`."""
    if node.node_id not in sec.keystores:
        raise ValueError(
            f"no keystore for node {node.node_id} in the site (brokers: {sorted(sec.keystores)})"
        )
    return secure_config(config, sec, sec.keystores[node.node_id])


def _listener_names(listeners: str) -> list[str]:
    return [item.split("://", 1)[0] for item in listeners.split(",") if "://" in item]


def secure_config(config: dict[str, str], sec: BrokerSecurity, keystore: Path) -> dict[str, str]:
    """A plaintext node config (combined, controller-only or broker-only; listeners named ``PLAINTEXT`` and
    ``CONTROLLER``) secured: the client and inter-broker listener becomes SASL_SSL (SCRAM-SHA-512), the
    controller listener mutual TLS (the broker certificates), and the StandardAuthorizer denies what no ACL
    allows. The result holds secrets: write it with mode 0600."""
    out = dict(config)
    for key in ("listeners", "advertised.listeners"):
        if key in out:
            out[key] = out[key].replace("PLAINTEXT://", "SASL_SSL://")
    if out.get("inter.broker.listener.name") == "PLAINTEXT":
        out["inter.broker.listener.name"] = "SASL_SSL"
    names = _listener_names(out.get("listeners", ""))
    protocols = {"CONTROLLER": "SSL", "SASL_SSL": "SASL_SSL"}
    # A broker-only node has no CONTROLLER listener but reaches the controllers through it: keep its mapping.
    mapped = [n for n in ("CONTROLLER", "SASL_SSL") if n in names or n == "CONTROLLER"]
    out["listener.security.protocol.map"] = ",".join(f"{n}:{protocols[n]}" for n in mapped)
    ib = sec.inter_broker
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ib.name}" password="{ib.password}";'
    )
    out |= {
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(keystore),
        "ssl.keystore.password": sec.keystore_password,
        "ssl.key.password": sec.keystore_password,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(sec.ca_file),
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "super.users": ";".join(f"User:{u}" for u in sec.super_users),
        "allow.everyone.if.no.acl.found": "false",
        "connection.failed.authentication.delay.ms": "1000",  # slows password guessing (default 100)
    }
    return out


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
