"""Kafka's reachability as the API sees it, and the sink that waits for a broker (no broker needed)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from api.kafka_link import KafkaLink, QuietWhileDown
from api.sink.runner import SinkStats
from api.sink.supervisor import SinkSupervisor
from factoryloop.errors import KafkaUnavailableError
from factoryloop.settings import KafkaSettings

KAFKA = KafkaSettings(bootstrap_servers="broker-1:9093")


class Switch:
    """A probe answering like a broker that is up or down."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if not self.up:
            raise ConnectionRefusedError("nothing listens")


def until(check: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("steps", "state", "paused"),
    [
        ([], "unknown", False),
        (["probe-down"], "down", True),
        (["probe-up"], "up", False),
        (["probe-up", "mark-down"], "down", True),
        (["probe-down", "mark-up"], "up", False),
        (["probe-down", "probe-up"], "up", False),
        (["probe-up", "probe-down", "probe-down"], "down", True),
    ],
)
def test_states(steps: list[str], state: str, paused: bool) -> None:
    probe = Switch(True)
    link = KafkaLink(KAFKA, probe=probe)
    for step in steps:
        if step.startswith("probe"):
            probe.up = step == "probe-up"
            assert link.check() is probe.up
        elif step == "mark-down":
            link.mark_down("delivery failed")
        else:
            link.mark_up()
    status = link.status()
    assert (status.state, status.paused, status.bootstrap) == (state, paused, "broker-1:9093")
    assert (status.error is not None) is paused


def test_since_is_when_the_state_began() -> None:
    probe = Switch(False)
    link = KafkaLink(KAFKA, probe=probe)
    started = link.status().since
    link.check()
    first = link.status()
    assert first.since == started  # down from the start: since the process started
    assert first.error == "ConnectionRefusedError: nothing listens"
    link.mark_down("another failure")
    assert link.status().since == first.since and link.status().error == "another failure"
    probe.up = True
    link.check()
    assert link.status().since >= first.since and link.status().state == "up"


def test_watcher_follows_the_broker() -> None:
    probe = Switch(False)
    link = KafkaLink(KAFKA, probe_s=0.02, probe=probe)
    link.start()
    try:
        until(lambda: link.status().paused)
        probe.up = True
        assert link.wait_up(5.0)
        assert not link.status().paused
        probe.up = False
        link.mark_down("send failed")  # a client's failure wakes the watcher, which checks again
        until(lambda: link.status().error == "ConnectionRefusedError: nothing listens")
    finally:
        link.stop()
    calls = probe.calls
    time.sleep(0.1)
    assert probe.calls == calls  # stopped


class FakeSink:
    def __init__(self) -> None:
        self.stats = SinkStats(events=3)
        self.stopped = threading.Event()
        self.consumer = self

    def run(self) -> None:
        self.stopped.wait(5.0)

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.stopped.set()


def test_supervisor_waits_for_a_broker_then_runs_the_sink() -> None:
    link = KafkaLink(KAFKA, probe=Switch(True))
    attempts: list[int] = []
    sink = FakeSink()

    def make() -> Any:
        attempts.append(1)
        if len(attempts) < 3:
            raise KafkaUnavailableError("cannot reach Kafka at broker-1:9093")
        return sink

    supervisor = SinkSupervisor(make, link, retry_s=0.01)
    assert supervisor.state == "waiting" and supervisor.stats.events == 0
    supervisor.start()
    try:
        until(lambda: supervisor.state == "running")
        assert len(attempts) == 3 and supervisor.stats.events == 3
        assert link.status().paused  # the failed attempts marked Kafka down; only a probe marks it up
    finally:
        supervisor.stop(timeout_s=2.0)
    assert supervisor.state == "stopped" and sink.stopped.is_set()


def test_supervisor_stopped_while_waiting() -> None:
    link = KafkaLink(KAFKA, probe=Switch(False))

    def make() -> Any:
        raise KafkaUnavailableError("no broker")

    supervisor = SinkSupervisor(make, link, retry_s=10.0)
    supervisor.start()
    until(lambda: link.status().paused)
    started = time.monotonic()
    supervisor.stop(timeout_s=2.0)
    assert time.monotonic() - started < 1.0 and supervisor.state == "stopped"


def test_kafka_python_is_quiet_while_kafka_is_down() -> None:
    probe = Switch(False)
    link = KafkaLink(KAFKA, probe=probe)
    link.check()
    quiet = QuietWhileDown(link)

    def shown(name: str, level: int = logging.ERROR) -> bool:
        return quiet.filter(logging.LogRecord(name, level, __file__, 1, "Connection failed", None, None))

    assert not shown("kafka.net.manager") and not shown("kafka") and not shown("kafka.cluster", logging.INFO)
    assert shown("kafka.net.manager", logging.CRITICAL) and shown("api.sink.supervisor")
    assert shown("kafkaesque")
    probe.up = True
    link.check()
    assert shown("kafka.net.manager")
