"""How a canary is judged from what its agents report (no broker needed: the events are built here)."""

from __future__ import annotations

import pytest

from factoryloop.schemas import ModelRef, ReviewAction, Verdict
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


def on(version: str, errors: int = 0, p99: float | None = None) -> object:
    return heartbeat(model=ModelRef(name="m", version=version), errors=errors, latency_p99_ms=p99)


@pytest.mark.parametrize(
    ("before_ms", "canary_ms", "ratio", "bad"),
    [(20.0, 30.0, 2.0, False), (20.0, 50.0, 2.0, True), (20.0, 50.0, None, False), (None, 90.0, 2.0, False)],
)
def test_latency_against_the_same_agent_on_the_champion(
    before_ms: float | None, canary_ms: float, ratio: float | None, bad: bool
) -> None:
    w = watch(max_latency_p99_ratio=ratio) if ratio else watch()
    w.observe(on("6", p99=before_ms))
    w.observe(on(VERSION, p99=canary_ms))
    assert any("the champion's" in p for p in w.problems()) is bad
    assert w.failures() == []  # latency is judged at the end of the window only


def test_defect_rate_against_the_same_agents_before_the_switch_when_alone() -> None:
    w = CanaryWatch(
        frozenset({"agent-1"}),
        VERSION,
        "d" * 32,
        CanaryPolicy(min_outcomes=3, max_defect_rate_jump=0.2),
        model_name="m",
    )
    for _ in range(3):
        w.observe(outcome(model=ModelRef(name="m", version="6"), verdict=Verdict.PASS))
        w.observe(outcome(model=ModelRef(name="other-product", version="1"), verdict=Verdict.FAIL))
    assert w.baseline_fail_rate() == 0.0  # another product's outcomes are not the champion's
    for _ in range(3):
        w.observe(outcome(model=ModelRef(name="m", version=VERSION), verdict=Verdict.FAIL))
    assert any("defect rate 1.00 vs the champion's 0.00" in f for f in w.failures())
    assert w.evidence()["canary_fail_rate"] == 1.0 and w.evidence()["champion_fail_rate"] == 0.0


@pytest.mark.parametrize(("resumed", "failed"), [(False, True), (True, False)])
def test_a_resumed_watch_counts_errors_from_what_it_first_sees(resumed: bool, failed: bool) -> None:
    w = CanaryWatch(frozenset({"agent-1"}), VERSION, "d" * 32, CanaryPolicy(), resumed=resumed)
    w.observe(on(VERSION, errors=4))  # the agent switched before this watch began
    assert bool(w.failures()) is failed
    w.observe(on(VERSION, errors=5))
    assert w.failures() != []
