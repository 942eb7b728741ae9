"""The dispatcher: retries with backoff until a channel takes the notice, records every outcome, filters by
severity / rule / event, and never blocks the caller (a channel that hangs does not hold back the others)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from api.alerts.delivery.base import Channel, DeliveryFailed, Notice
from api.alerts.delivery.dispatcher import Delivery, Dispatcher
from api.alerts.delivery.webhook import WebhookConfig
from api.alerts.rules.base import Severity


class Flaky(Channel):
    """Fails its first ``failures`` attempts; ``gate`` (if given) holds every attempt until set."""

    def __init__(self, name: str, failures: int = 0, gate: threading.Event | None = None, **cfg: Any) -> None:
        self.config = WebhookConfig(name=name, url="http://127.0.0.1:9/x", backoff_s=0.0, **cfg)
        self.failures = failures
        self.gate = gate
        self.attempts = 0

    def send(self, notice: Notice) -> None:
        if self.gate is not None:
            self.gate.wait()
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DeliveryFailed(f"refused #{self.attempts}")


def notice(severity: Severity = Severity.WARNING, event: str = "fired", rule: str = "r") -> Notice:
    return Notice(
        1,
        event,
        rule,
        "camera",
        severity,
        "agent:a1",
        "m",
        {},
        datetime(2026, 1, 1, tzinfo=UTC),  # type: ignore[arg-type]
        None,
        "L1",
        "S1",
        "a1",
        None,
    )


def wait_for(check: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    ("failures", "retries", "status", "attempts"),
    [(0, 3, "sent", 1), (2, 3, "sent", 3), (4, 3, "failed", 4), (1, 0, "failed", 1)],
)
def test_retries_then_records(failures: int, retries: int, status: str, attempts: int) -> None:
    done: list[Delivery] = []
    d = Dispatcher([Flaky("c", failures, retries=retries)], done.append)
    d.start()
    d.submit(notice())
    wait_for(lambda: done, "the delivery record")
    d.stop()
    (rec,) = done
    assert (rec.status, rec.attempts, rec.channel) == (status, attempts, "c")
    assert (rec.error is None) is (status == "sent")
    if status == "failed":
        assert rec.error == f"refused #{attempts}"


@pytest.mark.parametrize(
    ("cfg", "n", "wanted"),
    [
        ({"min_severity": "critical"}, notice(Severity.WARNING), False),
        ({"min_severity": "critical"}, notice(Severity.CRITICAL), True),
        ({"rules": ["other"]}, notice(), False),
        ({"events": ["fired"]}, notice(event="resolved"), False),
        ({}, notice(event="resolved"), True),
    ],
)
def test_channels_take_what_they_want(cfg: dict[str, Any], n: Notice, wanted: bool) -> None:
    assert Flaky("c", **cfg).config.wants(n) is wanted


def test_a_hanging_channel_blocks_neither_the_caller_nor_the_others() -> None:
    gate = threading.Event()
    done: list[Delivery] = []
    slow, quick = Flaky("slow", gate=gate), Flaky("quick")
    d = Dispatcher([slow, quick], done.append)
    d.start()
    d.submit(notice())  # returns although "slow" holds its attempt
    wait_for(lambda: [x.channel for x in done] == ["quick"], "the quick channel's record")
    gate.set()
    wait_for(lambda: len(done) == 2, "the slow channel's record")
    d.stop()
    assert sorted(x.channel for x in done) == ["quick", "slow"]
