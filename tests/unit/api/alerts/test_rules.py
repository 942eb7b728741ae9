"""Each rule type on in-memory facts at a fixed time: which subjects it finds, and what it leaves alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.alerts.config import parse_alerts
from api.alerts.rules import build_rule
from api.alerts.rules.base import CounterPoint, Rule
from tests.unit.api.alerts.facts import T0, MemoryFacts, agent, rollback


def rule(**cfg: Any) -> Rule:
    config = parse_alerts({"rules": [{"name": "r", **cfg}]})
    return build_rule(config.rules[0])


def subjects(r: Rule, facts: MemoryFacts, now: Any = T0) -> list[str]:
    return sorted(f.subject for f in r.evaluate(facts, now))


@pytest.mark.parametrize(
    ("cfg", "agents", "expected"),
    [
        ({"after_s": 60}, [agent("a1", age_s=59), agent("a2", age_s=61)], ["agent:a2"]),
        ({"after_s": 60}, [agent("a1", age_s=5)], []),
        (
            {"after_s": 10, "scope": {"line": "L2"}},
            [agent("a1", age_s=99), agent("a2", age_s=99, line="L2")],
            ["agent:a2"],
        ),
        (
            {"after_s": 10, "scope": {"product": "tile"}},
            [agent("a1", age_s=99, product="tile"), agent("a2", age_s=99)],
            ["agent:a1"],
        ),
    ],
)
def test_agent_offline(cfg: dict[str, Any], agents: list[Any], expected: list[str]) -> None:
    assert subjects(rule(type="agent_offline", **cfg), MemoryFacts(agents)) == expected


@pytest.mark.parametrize(
    ("camera", "age_s", "expected"),
    [
        ({}, 1, []),
        ({"blur_score": 12.0}, 1, ["agent:a1:blur"]),
        ({"frozen": True}, 1, ["agent:a1:frozen"]),
        ({"brightness": 3.0}, 1, ["agent:a1:dark"]),
        ({"connected": False}, 1, ["agent:a1:disconnected"]),
        ({"blur_score": 1.0, "brightness": 1.0}, 1, ["agent:a1:blur", "agent:a1:dark"]),
        ({"blur_score": None, "brightness": None}, 1, []),  # not measured: nothing to judge
        ({"frozen": True}, 600, []),  # a stale heartbeat is agent_offline's business
    ],
)
def test_camera(camera: dict[str, Any], age_s: float, expected: list[str]) -> None:
    assert subjects(rule(type="camera"), MemoryFacts([agent(camera=camera, age_s=age_s)])) == expected


def test_camera_checks_only_those_configured() -> None:
    facts = MemoryFacts([agent(camera={"frozen": True, "blur_score": 1.0})])
    assert subjects(rule(type="camera", checks=["frozen"]), facts) == ["agent:a1:frozen"]


@pytest.mark.parametrize(
    ("used", "reported_budget", "expected"),
    [
        (700 * 2**20, None, []),  # 68 % of 1 GiB
        (900 * 2**20, None, ["agent:a1"]),  # 88 %
        (90 * 2**20, 100 * 2**20, ["agent:a1"]),  # the agent's own budget wins
        (0, None, []),
    ],
)
def test_buffer_full(used: int, reported_budget: int | None, expected: list[str]) -> None:
    extra = {} if reported_budget is None else {"buffer_max_bytes": reported_budget}
    facts = MemoryFacts([agent(buffer_bytes=used, **extra)])
    assert subjects(rule(type="buffer_full", fraction=0.8), facts) == expected


def test_buffer_full_evidence_says_how_full() -> None:
    (f,) = rule(type="buffer_full", budget_bytes=1000 * 1024).evaluate(
        MemoryFacts([agent(buffer_bytes=900 * 1024)]), T0
    )
    assert f.evidence["fraction"] == 0.9 and f.evidence["budget_bytes"] == 1000 * 1024 and f.agent_id == "a1"


@pytest.mark.parametrize(
    ("cfg", "window", "hourly", "expected"),
    [
        ({}, {("L1", ""): {"PASS": 90, "FAIL": 10}}, {("L1", ""): {"PASS": 980, "FAIL": 20}}, ["line:L1"]),
        ({}, {("L1", ""): {"PASS": 97, "FAIL": 3}}, {("L1", ""): {"PASS": 980, "FAIL": 20}}, []),
        ({}, {("L1", ""): {"PASS": 9, "FAIL": 10}}, {("L1", ""): {"PASS": 980, "FAIL": 20}}, []),  # < 50 seen
        ({}, {("L1", ""): {"PASS": 90, "FAIL": 10}}, {}, []),  # no baseline: no judgement
        ({"baseline": 0.01}, {("L1", ""): {"PASS": 95, "FAIL": 5}}, {}, ["line:L1"]),
        (
            {"factor": None, "absolute": 0.1},
            {("L1", ""): {"PASS": 90, "FAIL": 10}},
            {("L1", ""): {"PASS": 98, "FAIL": 2}},
            [],
        ),
        (
            {"factor": None, "absolute": 0.05},
            {("L1", ""): {"PASS": 90, "FAIL": 10}},
            {("L1", ""): {"PASS": 98, "FAIL": 2}},
            ["line:L1"],
        ),
        (
            {"count_uncertain": True},
            {("L1", ""): {"PASS": 90, "UNCERTAIN": 10}},
            {("L1", ""): {"PASS": 99, "FAIL": 1}},
            ["line:L1"],
        ),
        ({}, {("L1", ""): {"PASS": 90, "UNCERTAIN": 10}}, {("L1", ""): {"PASS": 99, "FAIL": 1}}, []),
        (
            {"by": "station"},
            {("L1", "S1"): {"PASS": 90, "FAIL": 10}, ("L1", "S2"): {"PASS": 100}},
            {("L1", "S1"): {"PASS": 99, "FAIL": 1}, ("L1", "S2"): {"PASS": 99, "FAIL": 1}},
            ["station:L1/S1"],
        ),
        (
            {"scope": {"line": "L2"}},
            {("L1", ""): {"PASS": 90, "FAIL": 10}},
            {("L1", ""): {"PASS": 99, "FAIL": 1}},
            [],
        ),
    ],
)
def test_defect_rate(cfg: dict[str, Any], window: Any, hourly: Any, expected: list[str]) -> None:
    facts = MemoryFacts(window=window, hourly=hourly)
    assert subjects(rule(type="defect_rate", **cfg), facts) == expected


def test_defect_rate_reads_the_window_then_whole_hours_before_it() -> None:
    facts = MemoryFacts()
    now = T0 + timedelta(minutes=20)
    rule(type="defect_rate", window_s=900, baseline_s=7200, scope={"product": "tile"}).evaluate(facts, now)
    (w_since, w_until, _, product), (b_since, b_until, _, _) = facts.asked
    assert (w_since, w_until, product) == (T0 + timedelta(minutes=5), now, "tile")
    assert (b_since, b_until) == (T0 - timedelta(hours=2), T0)


@pytest.mark.parametrize(
    ("cfg", "rollbacks", "expected"),
    [
        ({}, [rollback("plate", age_s=60)], ["product:plate"]),
        ({}, [rollback("plate", age_s=7200)], []),  # older than within_s (1 h)
        ({"within_s": 86400}, [rollback("plate", age_s=7200)], ["product:plate"]),
        ({"scope": {"product": "tile"}}, [rollback("plate"), rollback("tile")], ["product:tile"]),
        ({}, [rollback("plate", age_s=30, rollout_id="b"), rollback("plate", age_s=90)], ["product:plate"]),
    ],
)
def test_rollout_rolled_back(cfg: dict[str, Any], rollbacks: list[Any], expected: list[str]) -> None:
    assert subjects(rule(type="rollout_rolled_back", **cfg), MemoryFacts(rollback_list=rollbacks)) == expected


def test_rollout_rolled_back_reports_the_latest() -> None:
    facts = MemoryFacts(
        rollback_list=[rollback(age_s=30, rollout_id="new"), rollback(age_s=90, rollout_id="old")]
    )
    (f,) = rule(type="rollout_rolled_back").evaluate(facts, T0)
    assert f.evidence["rollout_id"] == "new" and "canary fail rate" in f.message


def test_late_rejects_counts_since_the_start_when_it_is_inside_the_window() -> None:
    r = rule(type="late_rejects", window_s=600, max_count=2)
    young = MemoryFacts([agent(uptime_s=120.0, late_rejects=2, missed_parts=1)])
    assert subjects(r, young) == ["agent:a1"]
    assert subjects(rule(type="late_rejects", window_s=600, max_count=3), young) == []


def test_late_rejects_counts_the_increase_over_the_window_from_its_readings() -> None:
    r = rule(type="late_rejects", window_s=600, max_count=2, count=["late_rejects"])
    steps = [(0, 5), (300, 6), (700, 7), (1000, 9), (1300, 9)]  # (seconds after T0, late_rejects)
    found = []
    for t, late in steps:
        now = T0 + timedelta(seconds=t)
        facts = MemoryFacts([agent(now=now, uptime_s=5000.0 + t, late_rejects=late, missed_parts=50)])
        found.append((t, [f.evidence["count"] for f in r.evaluate(facts, now)]))
    # 700: 7 - 5 (reading at 0 is the newest >= 600 s old) = 2, not above 2; 1000: 9 - 6 = 3; 1300: 9 - 7 = 2
    assert found == [(0, []), (300, []), (700, []), (1000, [3]), (1300, [])]


def test_late_rejects_after_an_api_restart_counts_from_the_stored_heartbeats() -> None:
    """A fresh evaluator (the API restarted) reads the window's stored heartbeats first: the increase over
    the window is counted at once, not from zero."""
    r = rule(type="late_rejects", window_s=600, max_count=2, count=["late_rejects"])
    stored = [  # uptime grows with time: one run of the agent
        CounterPoint(T0 - timedelta(seconds=age), 5000.0 - age, late, 0) for age, late in [(900, 1), (500, 4)]
    ]
    facts = MemoryFacts([agent(uptime_s=5000.0, late_rejects=8)], history={"a1": stored})
    (f,) = r.evaluate(facts, T0)
    # the newest stored reading at least 600 s old is the one 900 s ago: 8 - 1 = 7 > 2
    assert f.evidence["count"] == 7
    fresh_eye = rule(type="late_rejects", window_s=600, max_count=2, count=["late_rejects"])
    assert subjects(fresh_eye, MemoryFacts([agent(uptime_s=5000.0, late_rejects=8)])) == []  # no history


def test_late_rejects_after_a_restart_counts_the_new_run_only() -> None:
    r = rule(type="late_rejects", window_s=600, max_count=0)
    before = MemoryFacts([agent(uptime_s=9000.0, late_rejects=40)])
    assert subjects(r, before) == []  # first reading of a long run: nothing counted yet
    later = T0 + timedelta(seconds=60)
    after = MemoryFacts([agent(now=later, uptime_s=30.0, late_rejects=1)])
    (f,) = r.evaluate(after, later)
    assert f.evidence["count"] == 1
