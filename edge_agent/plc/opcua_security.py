"""Basic256Sha256 for an OPC UA client: certificate files (PEM or DER, whatever their names), the
application URI from the certificate, and the server's certificate checked against a pinned one."""

from __future__ import annotations

from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from edge_agent.config.opcua import OpcUaSecurity
from edge_agent.plc import PlcError

DEFAULT_APP_URI = "urn:factoryloop:edge-agent"


def load_cert(path: Path) -> x509.Certificate:
    """A certificate file, PEM or DER whatever its name ends with."""
    data = path.read_bytes()
    return (
        x509.load_pem_x509_certificate(data)
        if b"-----BEGIN" in data
        else x509.load_der_x509_certificate(data)
    )


def load_key_der(path: Path) -> bytes:
    """A private key file (PEM or DER, unencrypted) as DER, which asyncua takes as content."""
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        key = serialization.load_pem_private_key(data, password=None)
    else:
        key = serialization.load_der_private_key(data, password=None)
    return key.private_bytes(Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def cert_uri(cert: x509.Certificate) -> str | None:
    """The first URI in the certificate's subject alternative names (where OPC UA puts the app URI)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def first_cert(der: bytes) -> bytes:
    """The leading certificate of a DER chain (servers may send theirs with its chain)."""
    return der[: int.from_bytes(der[2:4], "big") + 4]


async def apply_security(client: Client, sec: OpcUaSecurity) -> None:
    """Set the client's security policy, mode and certificates before ``connect`` (policy None: nothing)."""
    if sec.policy == "None":
        return
    assert sec.certificate is not None and sec.private_key is not None
    for what, path in (
        ("certificate", sec.certificate),
        ("private_key", sec.private_key),
        ("server_certificate", sec.server_certificate),
    ):
        if path is not None and not path.is_file():
            raise PlcError(f"security.{what} {path} is not a file")
    try:
        cert, key = load_cert(sec.certificate), load_key_der(sec.private_key)
        pinned = load_cert(sec.server_certificate) if sec.server_certificate else None
    except ValueError as exc:
        raise PlcError(f"security: cannot read the certificate or key: {exc}") from exc
    client.application_uri = sec.application_uri or cert_uri(cert) or DEFAULT_APP_URI
    policy = getattr(security_policies, f"SecurityPolicy{sec.policy}")
    mode = getattr(ua.MessageSecurityMode, sec.mode)
    endpoint = Client.find_endpoint(await client.connect_and_get_server_endpoints(), mode, policy.URI)
    offered = first_cert(endpoint.ServerCertificate)
    if pinned is not None and offered != pinned.public_bytes(Encoding.DER):
        raise PlcError(
            f"the server's certificate is not security.server_certificate {sec.server_certificate}: "
            "another server answers at this endpoint, or the PLC's certificate was renewed (pin the new one)"
        )
    await client.set_security(
        policy,
        certificate=cert.public_bytes(Encoding.DER),
        private_key=key,
        server_certificate=offered,
        mode=mode,
    )
