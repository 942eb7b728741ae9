"""One paho-mqtt 2 connection for the MQTT sink and trigger: the password read at every connect
(``password_env`` / ``password_file``), TLS from the line YAML's ``tls:``, and refusals that say what to
check.

:meth:`MqttLink.connect` makes a fresh client each time (so a fixed password file, CA file or broker is picked
up without an agent restart), connects synchronously (TCP, TLS handshake, CONNACK) and raises
:class:`~edge_agent.plc.PlcError` with the broker's answer. Once connected, paho's network thread reconnects
by itself after a drop (1-10 s backoff); ``on_up`` runs after every accepted CONNACK (the trigger subscribes
there), ``on_down`` after every drop.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.config.mqtt import MqttEndpoint
from edge_agent.plc import PlcError

logger = logging.getLogger(__name__)

KEEPALIVE_S = 30
_BAD_CREDENTIALS = {134, 135}  # CONNACK "Bad user name or password", "Not authorized" (v3.1.1 codes 4, 5)
_CLOSED = "closed"


class MqttLink:
    """``label`` prefixes every message (``mqtt host:port``); ``timeout_s`` bounds connect and CONNACK."""

    def __init__(
        self,
        config: MqttEndpoint,
        label: str,
        timeout_s: float,
        on_up: Callable[[mqtt.Client], None] | None = None,
        on_down: Callable[[], None] | None = None,
        on_message: Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None] | None = None,
        on_subscribe: Callable[..., None] | None = None,
    ) -> None:
        self.config, self.label, self.timeout_s = config, label, timeout_s
        self.on_up, self.on_down = on_up, on_down
        self.on_message, self.on_subscribe = on_message, on_subscribe
        self.client: mqtt.Client | None = None
        self._up = threading.Event()
        self._answered = threading.Event()
        self._answer: Any = None

    @property
    def up(self) -> bool:
        return self._up.is_set()

    def wait_up(self, timeout_s: float) -> bool:
        return self._up.wait(timeout_s)

    def connect(self) -> mqtt.Client:
        """A connected client (the previous one closed first); :class:`PlcError` saying what to check."""
        self.close()
        client = self._new_client()
        self._answered.clear()
        self._answer = None
        try:
            client.connect(self.config.host, self.config.port, keepalive=KEEPALIVE_S)
        except ssl.SSLCertVerificationError as exc:
            raise PlcError(self._untrusted(exc)) from exc
        except (ssl.SSLError, ConnectionResetError) as exc:
            if self.config.tls is None:
                raise PlcError(f"{self.label}: the connection failed: {exc!r}") from exc
            raise PlcError(
                f"{self.label}: TLS handshake failed: {exc!r}: is port {self.config.port} a TLS listener? "
                "(a plain MQTT port needs no tls: in the line YAML; a TLS one usually is 8883)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise PlcError(
                f"{self.label}: cannot reach the broker: {exc!r} (is it up and the port open?)"
            ) from exc
        self.client = client
        client.loop_start()
        if not self._answered.wait(self.timeout_s):
            self.close()
            raise PlcError(f"{self.label}: the broker did not answer the connect within {self.timeout_s} s")
        if self._answer is _CLOSED or getattr(self._answer, "is_failure", True):
            answer = self._answer
            self.close()
            raise PlcError(self._refused(answer))
        logger.info("%s: connected%s", self.label, " (TLS)" if self.config.tls else "")
        return client

    def close(self) -> None:
        client, self.client = self.client, None
        self._up.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()

    # -- building the client ----------------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        c = self.config
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=c.client_id or "")
        if c.username is not None:
            client.username_pw_set(c.username, self._password())
        if c.tls is not None:
            client.tls_set_context(self._tls_context())
        client.connect_timeout = self.timeout_s
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        if self.on_message is not None:
            client.on_message = self.on_message
        if self.on_subscribe is not None:
            client.on_subscribe = self.on_subscribe
        return client

    def _password(self) -> str | None:
        c = self.config
        if c.password_env is not None:
            password = os.environ.get(c.password_env)
            if not password:
                raise PlcError(
                    f"{self.label}: the environment variable {c.password_env} (password_env) is not set: "
                    f"export the password of MQTT user {c.username!r} in it (the unit's EnvironmentFile)"
                )
            return password
        if c.password_file is not None:
            try:
                text = c.password_file.read_text(encoding="utf-8")
                mode = c.password_file.stat().st_mode
            except OSError as exc:
                raise PlcError(
                    f"{self.label}: cannot read password_file {c.password_file}: {exc.strerror}: it must "
                    f"hold the password of MQTT user {c.username!r}, readable by the agent's user"
                ) from exc
            if mode & 0o077:
                logger.warning("%s: %s is readable by others: chmod 0600 it", self.label, c.password_file)
            password = text.rstrip("\r\n")
            if not password:
                raise PlcError(f"{self.label}: password_file {c.password_file} is empty")
            return password
        return None

    def _tls_context(self) -> ssl.SSLContext:
        tls = self.config.tls
        assert tls is not None
        try:
            ctx = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise PlcError(f"{self.label}: tls.ca_file {tls.ca_file}: cannot load it: {exc}") from exc
        ctx.check_hostname = tls.check_hostname
        if tls.cert_file is not None and tls.key_file is not None:
            try:
                ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
            except (OSError, ssl.SSLError) as exc:
                raise PlcError(
                    f"{self.label}: tls.cert_file {tls.cert_file} / key_file {tls.key_file}: cannot load "
                    f"them: {exc} (PEM, the key not encrypted)"
                ) from exc
        return ctx

    # -- paho callbacks (its network thread) ---------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not self._answered.is_set():
            self._answer = reason
            self._answered.set()
        if reason.is_failure:
            logger.warning("%s: connection refused: %s", self.label, reason)
            return
        if self.on_up is not None:
            self.on_up(client)
        self._up.set()

    def _on_disconnect(self, *_args: Any) -> None:
        if not self._answered.is_set():
            self._answer = _CLOSED
            self._answered.set()
        was_up = self._up.is_set()
        self._up.clear()
        if was_up:
            logger.warning("%s: connection lost; reconnecting", self.label)
        if self.on_down is not None:
            self.on_down()

    # -- messages -------------------------------------------------------------------------------------------

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> str:
        tls = self.config.tls
        ca = f"tls.ca_file {tls.ca_file}" if tls and tls.ca_file else "the system's CA store (no tls.ca_file)"
        why = exc.verify_message or str(exc)
        if "hostname" in why.lower() or "ip address mismatch" in why.lower():
            return (
                f"{self.label}: the broker's certificate does not name {self.config.host!r} ({why}): use a "
                "host name from its certificate in host:"
            )
        return (
            f"{self.label}: the broker's certificate is not trusted ({why}): {ca} must be the CA that "
            "signed it"
        )

    def _refused(self, answer: Any) -> str:
        c = self.config
        if answer is _CLOSED:
            hint = (
                f"is port {c.port} a TLS listener? then add tls: (with ca_file) to the line YAML"
                if c.tls is None
                else "check the broker's log (a client certificate it wants? a listener limit?)"
            )
            return f"{self.label}: the broker closed the connection before answering: {hint}"
        if getattr(answer, "value", None) in _BAD_CREDENTIALS:
            if c.username is None:
                return (
                    f"{self.label}: the broker refuses anonymous clients ({answer}): set username and "
                    "password_env or password_file"
                )
            where = f"${c.password_env}" if c.password_env else f"password_file {c.password_file}"
            return (
                f"{self.label}: the broker refused user {c.username!r} ({answer}): wrong username or "
                f"password (the password is read from {where})"
            )
        return f"{self.label}: the broker refused the connection: {answer}"
