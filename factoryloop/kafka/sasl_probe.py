"""One blocking login attempt, to learn why a client could not connect.

kafka-python retries a refused login until its bootstrap timeout and can lose the broker's reason: the broker
sends it just before closing the connection (after ``connection.failed.authentication.delay.ms``), and the
library drops data that arrives together with the close. A blocking socket reads the reply before the close,
so this probe (SaslHandshake v1 + SaslAuthenticate v0, PLAIN or SCRAM) gets the broker's own words.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct

from kafka.net.sasl.scram import ScramClient

from factoryloop.settings import KafkaSettings

logger = logging.getLogger(__name__)

SASL_HANDSHAKE, SASL_AUTHENTICATE = 17, 36


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def _call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"factoryloop-probe"
    message = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id + body
    sock.sendall(struct.pack(">i", len(message)) + message)
    (size,) = struct.unpack(">i", _read(sock, 4))
    return _read(sock, size)[4:]  # response header v0: the correlation id


def _authenticate(sock: socket.socket, token: bytes, corr: int) -> tuple[int, str | None, bytes]:
    reply = _call(sock, SASL_AUTHENTICATE, 0, corr, struct.pack(">i", len(token)) + token)
    error, text_len = struct.unpack(">hh", reply[:4])
    text = reply[4 : 4 + text_len].decode() if text_len >= 0 else None
    rest = reply[4 + max(text_len, 0) :]
    (size,) = struct.unpack(">i", rest[:4])
    return error, text, rest[4 : 4 + max(size, 0)]


def _login(sock: socket.socket, settings: KafkaSettings) -> str | None:
    mechanism = settings.sasl_mechanism or ""
    name = mechanism.encode()
    reply = _call(sock, SASL_HANDSHAKE, 1, 1, struct.pack(">h", len(name)) + name)
    if struct.unpack(">h", reply[:2])[0] != 0:
        return f"UnsupportedSaslMechanism: the broker does not offer {mechanism}"
    user = settings.sasl_username or ""
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    if mechanism == "PLAIN":
        error, text, _ = _authenticate(sock, f"\0{user}\0{password}".encode(), 2)
    else:
        scram = ScramClient(user, password, mechanism)
        error, text, server_first = _authenticate(sock, scram.first_message(), 2)
        if error == 0:
            scram.process_server_first_message(server_first)
            error, text, _ = _authenticate(sock, scram.final_message(), 3)
    return None if error == 0 else f"SaslAuthenticationFailed ({error}): {text}"


def probe_login(settings: KafkaSettings, timeout_s: float = 5.0) -> str | None:
    """Why ``settings`` cannot log in to the first bootstrap server (the broker's words, or the TLS error);
    None when the login works or there is nothing to learn (no SASL, broker unreachable)."""
    if not settings.security_protocol.startswith("SASL_") or not settings.sasl_mechanism:
        return None
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as raw:
            if settings.security_protocol == "SASL_SSL":
                context = ssl.create_default_context(
                    cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
                )
                with context.wrap_socket(raw, server_hostname=host.strip("[]")) as tls:
                    return _login(tls, settings)
            return _login(raw, settings)
    except ssl.SSLError as exc:
        return f"SSLError: {exc}"
    except (OSError, ValueError, struct.error) as exc:  # unreachable, closed early, or a reply we cannot read
        logger.debug("login probe of %s failed: %r", settings.bootstrap_servers, exc)
        return None
