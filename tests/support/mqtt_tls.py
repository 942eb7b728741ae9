"""A mosquitto broker with a TLS listener and a password file, for the MQTT sink and trigger tests.

The CA and the server certificate are made by ``factoryloop.site.tls`` (the code of ``factoryloop site init``,
with ``openssl``); a second CA that signed nothing plays the wrong one. The user's password is written with
``mosquitto_passwd``. :meth:`SecuredMosquitto.restart` stops and starts the same broker on the same port.
"""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from factoryloop.stack.process import free_ports
from tests.support.station import wait_port

USER = "line1-agent"


def _binary(name: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if Path(p).exists()), None)
    if found is None:
        pytest.skip(f"{name} not installed (apt-get install mosquitto; ./dev setup does)")
    return found


UNNAMED_HOST = "127.0.0.2"  # a loopback address the broker's certificate (localhost, 127.0.0.1) does not name


@dataclass
class SecuredMosquitto:
    """``port``: the TLS listener (``password`` of ``USER`` required); ``ca_file``: the CA that signed the
    broker's certificate; ``wrong_ca``: one that did not. ``unnamed_port``: the same TLS listener on
    :data:`UNNAMED_HOST`, an address its certificate does not name; ``plain_port``: a plain MQTT listener."""

    folder: Path
    port: int
    ca_file: Path
    wrong_ca: Path
    password: str
    unnamed_port: int = 0
    plain_port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [_binary("mosquitto"), "-c", str(self.folder / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "mosquitto.log").open("ab"),
        )
        wait_port(self.port)
        wait_port(self.plain_port)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return (self.folder / "mosquitto.log").read_text(errors="replace")


@contextmanager
def secured_mosquitto(tmp: Path) -> Iterator[SecuredMosquitto]:
    """A started :class:`SecuredMosquitto` in ``tmp`` (skips when mosquitto or openssl is missing)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (apt-get install openssl)")
    from factoryloop.site.tls import create_ca, create_server_cert

    passwd = _binary("mosquitto_passwd")
    folder = tmp / "mosquitto"
    folder.mkdir()
    create_ca(folder / "ca.pem", folder / "ca.key", "test MQTT CA")
    create_ca(folder / "wrong-ca.pem", folder / "wrong-ca.key", "another CA")
    create_server_cert(
        "localhost",
        folder / "ca.pem",
        folder / "ca.key",
        folder / "server.pem",
        folder / "server.key",
        "mqtt",
    )
    password = "s3cret-" + str(time.monotonic_ns())
    subprocess.run([passwd, "-b", "-c", str(folder / "passwd"), USER, password], check=True, timeout=30)
    port, unnamed_port, plain_port = free_ports(3)
    tls = f"cafile {folder / 'ca.pem'}\ncertfile {folder / 'server.pem'}\nkeyfile {folder / 'server.key'}\n"
    (folder / "mosquitto.conf").write_text(
        "per_listener_settings false\n"
        f"user {getpass.getuser()}\n"  # root stays root (reads the 0600 files); others: no effect
        f"listener {port} 127.0.0.1\n{tls}"
        f"listener {unnamed_port} {UNNAMED_HOST}\n{tls}"
        f"listener {plain_port} 127.0.0.1\n"
        f"allow_anonymous false\npassword_file {folder / 'passwd'}\n"
    )
    broker = SecuredMosquitto(
        folder, port, folder / "ca.pem", folder / "wrong-ca.pem", password, unnamed_port, plain_port
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass
class TlsInbox:
    payloads: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: int = 0  # subscribed once per connection (the client reconnects after a broker restart)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.payloads) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def wait_subscribed(self, count: int, timeout_s: float = 60.0) -> None:
        """Until the ``count``-th subscription: after a broker restart, a message sent before the client is
        subscribed again is not for it (no persistent session)."""
        deadline = time.monotonic() + timeout_s
        while self.subscriptions < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.subscriptions} subscriptions in {timeout_s:.0f} s, not {count}")
            time.sleep(0.02)


def _tls_client(broker: SecuredMosquitto) -> Any:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.tls_set(ca_certs=str(broker.ca_file))
    client.username_pw_set(USER, broker.password)
    return client


@contextmanager
def tls_subscribed(broker: SecuredMosquitto, topic: str) -> Iterator[TlsInbox]:
    """JSON messages of ``topic`` read by a plain paho client over TLS as ``USER``."""
    inbox, ready = TlsInbox(), threading.Event()
    client = _tls_client(broker)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)

    def subscribed(*_: Any) -> None:
        inbox.subscriptions += 1
        ready.set()

    client.on_subscribe = subscribed
    client.on_message = lambda _c, _u, msg: inbox.payloads.append(json.loads(msg.payload))
    client.connect("localhost", broker.port)
    client.loop_start()
    try:
        if not ready.wait(10):
            raise RuntimeError(f"could not subscribe to {topic} on localhost:{broker.port}")
        yield inbox
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def tls_publisher(broker: SecuredMosquitto) -> Iterator[Any]:
    client = _tls_client(broker)
    client.connect("localhost", broker.port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()
