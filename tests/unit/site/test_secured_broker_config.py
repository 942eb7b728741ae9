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
