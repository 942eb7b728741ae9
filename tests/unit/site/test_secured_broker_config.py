"""The secured broker configuration (pure): listeners, TLS, SCRAM, authorizer; SCRAM format arguments."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from factoryloop.stack.kafka_config import (
    BrokerSecurity,
    NodeSpec,
    ScramUser,
    render_server_config,
    scram_format_args,
    secure_config,
    secure_server_config,
    to_properties,
)

NODE = NodeSpec(1, "10.0.0.11", 9094, 9095, Path("/var/lib/kafka"))
SEC = BrokerSecurity(
    ca_file=Path("/site/ca.pem"),
    keystores={1: Path("/site/broker/broker-1.p12")},
    keystore_password="ks-secret",
    inter_broker=ScramUser("broker", "ib-secret"),
    admin=ScramUser("admin", "admin-secret"),
    users=(ScramUser("agent", "agent-secret"), ScramUser("admin", "admin-secret")),
)


def test_secured_listeners_tls_scram_and_authorizer() -> None:
    plain = render_server_config(NODE, [NODE])
    cfg = secure_server_config(plain, NODE, SEC)
    assert cfg["listeners"] == "SASL_SSL://10.0.0.11:9094,CONTROLLER://10.0.0.11:9095"
    assert cfg["advertised.listeners"] == "SASL_SSL://10.0.0.11:9094"
    assert "PLAINTEXT" not in cfg["listener.security.protocol.map"]
    assert cfg["listener.name.controller.ssl.client.auth"] == "required"
    assert cfg["sasl.enabled.mechanisms"] == cfg["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert (
        'username="broker" password="ib-secret"'
        in cfg["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )
    assert cfg["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert cfg["allow.everyone.if.no.acl.found"] == "false"
    assert cfg["super.users"] == "User:factoryloop-broker;User:broker;User:admin"
    assert cfg["ssl.truststore.type"] == "PEM" and cfg["ssl.keystore.location"] == "/site/broker/broker-1.p12"
    assert {k: v for k, v in cfg.items() if (k in plain and k not in plain) or False} == {}
    for key in ("log.dirs", "message.max.bytes", "min.insync.replicas"):
        assert cfg[key] == plain[key]  # the cluster settings are the plaintext stack's
    assert "PLAINTEXT://" in plain["listeners"]  # the local stack is unchanged
    assert "ks-secret" in to_properties(cfg)


def test_no_keystore_for_the_node() -> None:
    other = NodeSpec(2, "10.0.0.12", 9094, 9095, Path("/d"))
    with pytest.raises(ValueError, match="no keystore for node 2"):
        secure_server_config(render_server_config(other, [other]), other, SEC)


def test_users_and_secrets() -> None:
    assert [u.name for u in SEC.all_users] == ["broker", "admin", "agent"]
    assert "secret" not in repr(SEC)
    assert SEC.client_config()["sasl_plain_username"] == "admin"


def test_scram_format_arg_is_salted() -> None:
    salt = b"0123456789abcdef"
    arg = ScramUser("agent", "pw").format_arg(salt)
    salted = base64.b64encode(hashlib.pbkdf2_hmac("sha512", b"pw", salt, 8192)).decode()
    assert arg == (
        f'SCRAM-SHA-512=[name=agent,iterations=8192,salt="{base64.b64encode(salt).decode()}",'
        f'saltedpassword="{salted}"]'
    )


def test_split_roles_controller_and_broker() -> None:
    """The site's separate controller and broker nodes (factoryloop deploy kafka-config's listeners)."""
    controller = {
        "process.roles": "controller",
        "listeners": "CONTROLLER://0.0.0.0:9093",
        "advertised.listeners": "CONTROLLER://kafka-c1:9093",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
    }
    broker = {
        "process.roles": "broker",
        "listeners": "PLAINTEXT://0.0.0.0:9092",
        "advertised.listeners": "PLAINTEXT://kafka-1:9092",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    }
    ks = Path("/etc/kafka/node.p12")
    c = secure_config(controller, SEC, ks)
    assert (
        c["listeners"] == "CONTROLLER://0.0.0.0:9093"
        and c["listener.security.protocol.map"] == "CONTROLLER:SSL"
    )
    assert c["listener.name.controller.ssl.client.auth"] == "required" and c["ssl.keystore.location"] == str(
        ks
    )
    assert c["authorizer.class.name"].endswith("StandardAuthorizer")  # controllers authorize controller RPCs
    b = secure_config(broker, SEC, ks)
    assert (
        b["listeners"] == "SASL_SSL://0.0.0.0:9092" and b["advertised.listeners"] == "SASL_SSL://kafka-1:9092"
    )
    assert b["inter.broker.listener.name"] == "SASL_SSL"
    assert b["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"  # it reaches controllers
    assert not any("PLAINTEXT" in v for v in (*b.values(), *c.values()))


def test_scram_format_args_for_every_user() -> None:
    args = scram_format_args(SEC)
    assert args[::2] == ["--add-scram"] * 3
    assert [a.split("name=")[1].split(",")[0] for a in args[1::2]] == ["broker", "admin", "agent"]
