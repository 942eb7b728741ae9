"""How the rollout controller follows a server that stops answering (a fake clock and a scripted probe: the
real servers are in tests/integration/training/test_rollout_outages.py), and when a stage's judgement calls
for a step (what it then waits for, when MLflow is down)."""

from __future__ import annotations

import json
import logging

import pytest

from training.registry.models import RegisteredVersion
from training.rollout.ledger import Rollout
from training.rollout.outages import Outage
from training.rollout.policy import RolloutPolicy
from training.rollout.stages import Active, judge
from training.rollout.watch import CanaryPolicy, CanaryWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_server_down_is_probed_every_retry_s_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock, answers = Clock(), [False, False, True]
    probes: list[float] = []

    def probe() -> bool:
        probes.append(clock.now)
        return answers.pop(0)

    link = Outage("MLflow", "http://mlflow:5000", probe, retry_s=5.0, clock=clock)
    assert link.check() and probes == []  # up: never probed
    with caplog.at_level(logging.WARNING, logger="training.rollout.outages"):
        link.mark_down("connection refused")
        link.mark_down("connection refused")  # still down: said once
        for step in (1.0, 4.0, 0.5, 5.0, 5.0):
            clock.now += step
            up = link.check()
        assert up and not link.is_down
    assert probes == [105.0, 110.5, 115.5]  # when due: 5 s after the failure, then after each probe
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert "MLflow at http://mlflow:5000 does not answer (connection refused)" in said[0]
    assert "answers again after 15.5 s" in said[1]


VERSION = RegisteredVersion("m", "3", "r", "s", {"onnx_sha256": "a" * 64, "class_names": json.dumps(["x"])})


def active(started: float | None, failures: bool = False) -> Active:
    r = Rollout("r" * 16, "p", VERSION, None, (("a",), ()))
    watch = CanaryWatch(frozenset({"a"}), "3", "d" * 16, CanaryPolicy(window_s=10.0), resumed=True)
    watch.serving.add("a")
    if failures:
        watch.rejected.append("a: bad model")
    return Active(r, watch, started, RolloutPolicy(window_s=10.0))


@pytest.mark.parametrize(
    ("started", "failures", "now", "step"),
    [
        (None, True, 500.0, None),  # its deployment not acknowledged yet: nothing judged
        (100.0, False, 105.0, None),  # the window runs
        (100.0, True, 105.0, "roll back v3 (model rejected by a: bad model)"),  # at once
        (100.0, False, 110.0, "take v3 to every agent (stage 1 healthy for 10 s)"),
    ],
)
def test_what_a_stage_calls_for(started: float | None, failures: bool, now: float, step: str | None) -> None:
    a = active(started, failures)
    got = judge("p", a, now)
    assert (got.describe(a.rollout) if got else None) == step


@pytest.mark.parametrize(
    ("heard", "after_s", "started"),
    [
        ("a", 1.0, 201.0),  # a stage agent reports again: its new window starts then
        ("b", 1.0, None),  # another agent: still waiting for the stage's own
        (None, 9.0, None),  # nothing yet, within window_s
        (None, 10.0, 210.0),  # window_s after the outage at most
    ],
)
def test_after_a_kafka_outage_the_window_restarts_when_its_agents_report(
    heard: str | None, after_s: float, started: float | None
) -> None:
    a = active(100.0)
    a.relisten(200.0)
    assert a.started is None and judge("p", a, 500.0) is None  # nothing judged meanwhile
    a.heard(heard, 200.0 + after_s)
    assert a.started == started
