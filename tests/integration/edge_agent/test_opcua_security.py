"""OPC UA security against a real asyncua server: Basic256Sha256 Sign / SignAndEncrypt with certificates made
here, a trusted-certificate folder on the server, and a username whose password comes from the environment.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("asyncua", reason="asyncua is not installed (pip install -c constraints.txt asyncua)")

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edge_agent.config.sinks import OpcUaSink
from edge_agent.errors import SinkError
from edge_agent.sinks import build_sink
from edge_agent.sinks.base import Sink
from edge_agent.triggers.base import TriggerSource
from factoryloop.stack.process import free_ports
from tests.integration.edge_agent.test_opcua_plc import (
    VARIABLES,
    CertPair,
    PlcServer,
    collect,
    run_plc,
    signal_,
    triggers,
)

PASSWORD_ENV = "FACTORYLOOP_OPCUA_TEST_PASSWORD"


def make_cert(directory: Path, name: str, uri: str, server: bool) -> CertPair:
    """A self-signed OPC UA application certificate (URI and DNS names in the SAN), as a PLC or client has."""
    directory.mkdir(parents=True, exist_ok=True)
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(
        key,
        name,
        {"organizationName": "factoryloop tests"},
        [x509.UniformResourceIdentifier(uri), x509.DNSName("localhost"), x509.DNSName(socket.gethostname())],
        [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    private = directory.parent / f"{directory.name}-private"  # a trust folder holds certificates only
    private.mkdir(exist_ok=True)
    pair = CertPair(directory / f"{name}.der", private / f"{name}-key.pem", uri)
    pair.cert.write_bytes(cert.public_bytes(Encoding.DER))
    pair.key.write_bytes(dump_private_key_as_pem(key))
    pair.key.chmod(0o600)
    return pair


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlcServer, CertPair, CertPair]]:
    """Basic256Sha256 (Sign and SignAndEncrypt) only, one trusted client certificate, user agent/s3cret."""
    d = tmp_path_factory.mktemp("opcua-pki")
    server_cert = make_cert(d / "server", "plc", "urn:factoryloop:test-plc", server=True)
    client = make_cert(d / "trusted", "agent", "urn:factoryloop:line1:agent", server=False)
    stranger = make_cert(d / "other", "stranger", "urn:factoryloop:stranger", server=False)
    server = PlcServer(
        free_ports(1)[0], VARIABLES, server_cert=server_cert, trusted=d / "trusted", users={"agent": "s3cret"}
    ).start()
    yield server, client, stranger
    server.close()


@pytest.fixture
def trigger_factory(secure: tuple[PlcServer, CertPair, CertPair]) -> Iterator[Callable[..., TriggerSource]]:
    yield from triggers(secure[0])


def secure_sink(
    server: PlcServer,
    cert: CertPair,
    mode: str = "SignAndEncrypt",
    server_certificate: Path | None = None,
    **extra: Any,
) -> Sink:
    security = {
        "policy": "Basic256Sha256",
        "mode": mode,
        "certificate": cert.cert,
        "private_key": cert.key,
        "server_certificate": server_certificate,
    }
    config: dict[str, Any] = {
        "type": "opcua",
        "endpoint": server.endpoint,
        "nodes": {
            "verdict": server.node_id("Verdict"),
            "part_id": server.node_id("PartId"),
            "seq": server.node_id("Seq"),
        },
        "security": security,
        "username": "agent",
        "password_env": PASSWORD_ENV,
        "timeout_s": 5.0,
    }
    config.update(extra)
    return build_sink(OpcUaSink.model_validate(config), 0)


@pytest.mark.parametrize(("mode", "pin"), [("Sign", False), ("SignAndEncrypt", True)])
def test_secure_sink_and_trigger_with_certificates_and_a_password_from_the_environment(
    secure: tuple[PlcServer, CertPair, CertPair],
    monkeypatch: pytest.MonkeyPatch,
    trigger_factory: Callable[..., TriggerSource],
    mode: str,
    pin: bool,
) -> None:
    server, client, _ = secure
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    pinned = server.server_cert.cert if pin and server.server_cert else None
    sink = secure_sink(server, client, mode, server_certificate=pinned)
    try:
        sink.send(signal_(f"secure-{mode}"))
    finally:
        sink.close()
    assert server.read("PartId") == f"secure-{mode}"
    trigger = trigger_factory(
        server,
        part_present="Present",
        part_id="TriggerPartId",
        encoder="Encoder",
        ack="Ack",
        config={
            "security": {
                "policy": "Basic256Sha256",
                "mode": mode,
                "certificate": client.cert,
                "private_key": client.key,
            },
            "username": "agent",
            "password_env": PASSWORD_ENV,
        },
    )
    trigger.open()
    events = collect(trigger, run_plc(server, [(f"T-{mode}", 5)], "Present", "TriggerPartId"), 1)
    assert [(e.part_id, e.encoder) for e in events] == [(f"T-{mode}", 5)]


@pytest.mark.parametrize(
    ("password", "use", "security", "message"),
    [
        (
            "wrong",
            "client",
            None,
            r"refused user 'agent': wrong username or password \(the password is read from ",
        ),
        (None, "client", None, rf"environment variable {PASSWORD_ENV} \(password_env\) is not set"),
        ("s3cret", "stranger", None, r"BadCertificateUntrusted: the server refused the client certificate"),
        ("s3cret", "client", "none", r"the server offers no endpoint with security None/None"),
        ("s3cret", "client", "wrong-pin", r"the server's certificate is not security.server_certificate"),
    ],
    ids=["wrong-password", "no-password", "untrusted-certificate", "no-security", "wrong-pin"],
)
def test_secure_server_refusals_say_what_to_fix(
    secure: tuple[PlcServer, CertPair, CertPair],
    monkeypatch: pytest.MonkeyPatch,
    password: str | None,
    use: str,
    security: str | None,
    message: str,
) -> None:
    server, client, stranger = secure
    if password is None:
        monkeypatch.delenv(PASSWORD_ENV, raising=False)
    else:
        monkeypatch.setenv(PASSWORD_ENV, password)
    cert = client if use == "client" else stranger
    extra: dict[str, Any] = {}
    if security == "none":
        extra = {"security": {"policy": "None"}}
    elif security == "wrong-pin":
        extra = {
            "security": {
                "policy": "Basic256Sha256",
                "mode": "Sign",
                "certificate": cert.cert,
                "private_key": cert.key,
                "server_certificate": stranger.cert,
            }
        }
    before = server.read("PartId")
    sink = secure_sink(server, cert, **extra)
    try:
        with pytest.raises(SinkError, match=message):
            sink.send(signal_("refused"))
    finally:
        sink.close()
    assert server.read("PartId") == before
