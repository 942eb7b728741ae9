"""How a canary is judged from what its agents report (no broker needed: the events are built here)."""

from __future__ import annotations

import pytest

from factoryloop.schemas import ModelRef, ReviewAction
from tests.support.events import heartbeat, label, outcome
from training.rollout import CanaryPolicy, CanaryWatch

VERSION = "7"


def watch(**policy: float) -> CanaryWatch:
    base = {"window_s": 1.0, "min_outcomes": 2, "min_reviews": 2, "max_latency_p99_ms": 100.0}
    return CanaryWatch(frozenset({"agent-1"}), VERSION, "d" * 32, CanaryPolicy(**(base | policy)))


def serving(errors: int = 0, p99: float = 10.0) -> object:
    return heartbeat(model=ModelRef(name="m", version=VERSION), errors=errors, latency_p99_ms=p99)


def test_healthy_canary_has_no_problems() -> None:
    w = watch()
    w.observe(serving())
    assert w.problems() == []


def test_agent_that_never_serves_the_canary_is_a_problem() -> None:
    w = watch()
    w.observe(heartbeat(model=ModelRef(name="m", version="6")))
    assert any("never reported serving" in p for p in w.problems())


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (serving(errors=3), "errors since serving"),
        (serving(p99=500.0), "latency p99 500 ms"),
    ],
)
def test_errors_and_latency_fail_the_canary(event: object, problem: str) -> None:
    w = watch()
    w.observe(serving())
    w.observe(event)
    assert any(problem in p for p in w.problems())


def test_no_reviews_with_min_reviews_zero_is_not_an_error() -> None:
    w = watch(min_reviews=0)
    w.observe(serving())
    assert w.problems() == []


def test_overridden_reviews_fail_the_canary() -> None:
    w = watch(max_override_rate=0.3)
    w.observe(serving())
    outcomes = [outcome(model=ModelRef(name="m", version=VERSION)) for _ in range(3)]
    for o in outcomes:
        w.observe(o)
        w.observe(label(outcome_event_id=o.event_id, action=ReviewAction.CORRECT))
    assert any("override rate 1.00" in p for p in w.problems())
