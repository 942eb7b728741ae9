"""The MQTT sink and trigger over TLS with a password from the environment or a file, against a real
mosquitto with a TLS listener and a password file: delivery, the refusals (wrong CA, wrong password, plain
TCP to the TLS port, TLS to a plain port, a host the certificate does not name, no password) with messages
that say what to fix, and a running agent's sink and
trigger connecting by themselves once the fault is fixed (password file, CA file, broker restart)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import MqttSink, ReconnectConfig
from edge_agent.config.triggers import MqttTrigger
from edge_agent.errors import SinkError, TriggerError
from edge_agent.sinks import build_sink
from edge_agent.sinks.base import RejectSignal, SinkWorker
from edge_agent.station.watch import WatchedTrigger
from edge_agent.stats import AgentStats
from edge_agent.triggers import build_trigger
from factoryloop.schemas import Verdict, utc_now
from tests.support.mqtt_tls import (
    UNNAMED_HOST,
    USER,
    SecuredMosquitto,
    secured_mosquitto,
    tls_publisher,
    tls_subscribed,
)

PASSWORD_ENV = "FACTORYLOOP_TEST_MQTT_PASSWORD"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecuredMosquitto]:
    with secured_mosquitto(tmp_path) as b:
        yield b


@pytest.fixture
def password_file(tmp_path: Path, broker: SecuredMosquitto) -> Path:
    path = tmp_path / "mqtt.password"
    path.write_text(broker.password + "\n")
    path.chmod(0o600)
    return path


Endpoint = Callable[..., dict[str, Any]]


@pytest.fixture
def endpoint(broker: SecuredMosquitto, password_file: Path) -> Endpoint:
    """The connection keys of a sink or trigger to ``broker``, with overrides (None removes a key)."""

    def make(**over: Any) -> dict[str, Any]:
        keys: dict[str, Any] = {
            "host": "localhost",
            "port": broker.port,
            "tls": {"ca_file": str(broker.ca_file)},
            "username": USER,
            "password_file": str(password_file),
            "timeout_s": 2.0,
        } | over
        return {k: v for k, v in keys.items() if v is not None}

    return make


def signal_(n: int) -> RejectSignal:
    return RejectSignal(
        Verdict.FAIL, f"f{n}", f"item{n}", "l1", "s1", ("dent",), utc_now(), time.monotonic(), f"e{n}"
    )


def sink_cfg(keys: dict[str, Any]) -> MqttSink:
    return MqttSink.model_validate({"type": "mqtt", "topic": "line1/reject", **keys})


def trigger_cfg(keys: dict[str, Any]) -> MqttTrigger:
    return MqttTrigger.model_validate({"type": "mqtt", "topic": "line1/part", **keys})


def test_the_sink_publishes_over_tls_with_the_password_from_a_file(
    broker: SecuredMosquitto, endpoint: Endpoint
) -> None:
    stats = AgentStats()
    worker = SinkWorker(build_sink(sink_cfg(endpoint()), 0), ("FAIL",), 16, stats)
    with tls_subscribed(broker, "line1/reject") as inbox:
        worker.start()
        for i in range(3):
            worker.submit(signal_(i))
        inbox.wait_for(3)
        worker.close()
    assert [p["frame_id"] for p in inbox.payloads] == ["f0", "f1", "f2"]
    assert stats.get("sink_sent:mqtt0") == 3 and stats.get("sink_failures:mqtt0") == 0


def test_the_trigger_reads_parts_over_tls_with_the_password_from_the_environment(
    broker: SecuredMosquitto, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, broker.password)
    trigger = build_trigger(trigger_cfg(endpoint(password_file=None, password_env=PASSWORD_ENV)))
    trigger.open()
    try:
        with tls_publisher(broker) as pub:
            pub.publish("line1/part", '{"part_id": "P-7"}', qos=1).wait_for_publish(5)
        event = trigger.wait(5.0)
    finally:
        trigger.close()
    assert event is not None and event.part_id == "P-7"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("wrong_ca", r"certificate is not trusted \(.*\): tls\.ca_file .*wrong-ca\.pem must be the CA"),
        (
            "wrong_password",
            rf"refused user '{USER}' \(.*\): wrong username or password \(the pass",
        ),
        ("no_user", r"refuses anonymous clients .*set username and password_env or password_file"),
        ("plain_tcp", r"closed the connection before answering: is port \d+ a TLS listener\? then add tls:"),
        (
            "tls_to_plain",
            r"TLS handshake failed: .*: is port \d+ a TLS listener\? \(a plain MQTT port needs no",
        ),
        (
            "host_not_named",
            rf"certificate does not name '{UNNAMED_HOST}' \(.*mismatch.*\): use a host name from its",
        ),
        ("no_variable", rf"the environment variable {PASSWORD_ENV} \(password_env\) is not set"),
        ("no_file", r"cannot read password_file .*missing.password: No such file"),
    ],
)
@pytest.mark.parametrize("kind", ["sink", "trigger"])
def test_refusals_say_what_to_fix(
    broker: SecuredMosquitto, endpoint: Endpoint, tmp_path: Path, kind: str, fault: str, message: str
) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password\n")
    keys = {
        "wrong_ca": endpoint(tls={"ca_file": str(broker.wrong_ca)}),
        "wrong_password": endpoint(password_file=str(wrong)),
        "no_user": endpoint(username=None, password_file=None),
        "plain_tcp": endpoint(tls=None),
        "tls_to_plain": endpoint(port=broker.plain_port),
        "host_not_named": endpoint(host=UNNAMED_HOST, port=broker.unnamed_port),
        "no_variable": endpoint(password_file=None, password_env=PASSWORD_ENV),
        "no_file": endpoint(password_file=str(tmp_path / "missing.password")),
    }[fault]
    os.environ.pop(PASSWORD_ENV, None)
    device = build_sink(sink_cfg(keys), 0) if kind == "sink" else build_trigger(trigger_cfg(keys))
    with pytest.raises(SinkError if kind == "sink" else TriggerError, match=message):
        device.open()
    device.close()


@pytest.mark.parametrize("fault", ["password_file", "ca_file"])
def test_a_running_sink_connects_once_the_fault_is_fixed(
    broker: SecuredMosquitto, endpoint: Endpoint, tmp_path: Path, password_file: Path, fault: str
) -> None:
    ca = tmp_path / "ca-in-use.pem"
    shutil.copy(broker.wrong_ca if fault == "ca_file" else broker.ca_file, ca)
    if fault == "password_file":
        password_file.write_text("an old password\n")
    stats = AgentStats()
    worker = SinkWorker(build_sink(sink_cfg(endpoint(tls={"ca_file": str(ca)})), 0), ("FAIL",), 16, stats)
    with tls_subscribed(broker, "line1/reject") as inbox:
        worker.start()
        worker.submit(signal_(0))
        while stats.get("sink_failures:mqtt0") < 1:
            time.sleep(0.02)
        if fault == "ca_file":
            shutil.copy(broker.ca_file, ca)
        else:
            password_file.write_text(broker.password + "\n")
        worker.submit(signal_(1))
        inbox.wait_for(1)
        broker.restart()  # and a broker restart costs nothing once the agent is past it
        inbox.wait_subscribed(2)  # the test's subscriber back first (the sink's message is not kept for it)
        worker.submit(signal_(2))
        inbox.wait_for(2)
        worker.close()
    assert [p["frame_id"] for p in inbox.payloads] == ["f1", "f2"]
    assert stats.get("sink_failures:mqtt0") == 1 and stats.get("sink_sent:mqtt0") == 2


def test_the_trigger_watchdog_retries_until_the_password_is_fixed_and_survives_a_restart(
    broker: SecuredMosquitto, endpoint: Endpoint, password_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password_file.write_text("an old password\n")
    stop = threading.Event()
    status: list[bool] = []
    watched = WatchedTrigger(
        build_trigger(trigger_cfg(endpoint(timeout_s=1.0))),
        ReconnectConfig(initial_backoff_s=0.05, max_backoff_s=0.3),
        stop,
        on_status=lambda up, _detail: status.append(up),
    )
    parts: list[str] = []

    def consume() -> None:
        for event in watched.events():
            parts.append(event.part_id)
            if len(parts) == 2:
                stop.set()

    thread = threading.Thread(target=consume)
    thread.start()
    try:
        while "wrong username or password" not in caplog.text and thread.is_alive():
            time.sleep(0.02)  # refused, logged, retried: nothing raised
        assert thread.is_alive() and not watched.stats.connected
        password_file.write_text(broker.password + "\n")
        with tls_publisher(broker) as pub:
            while not watched.stats.connected and thread.is_alive():
                time.sleep(0.02)
            pub.publish("line1/part", '{"part_id": "A"}', qos=1).wait_for_publish(5)
        while len(parts) < 1 and thread.is_alive():
            time.sleep(0.02)
        broker.restart()
        with tls_publisher(broker) as pub:
            while len(parts) < 2 and thread.is_alive():  # published until the re-subscribed trigger gets one
                pub.publish("line1/part", '{"part_id": "B"}', qos=1).wait_for_publish(5)
                time.sleep(0.2)
    finally:
        stop.set()
        thread.join(20)
    assert parts == ["A", "B"]
    assert status[0] is True and "connection lost" in caplog.text  # the restart was seen, and survived
