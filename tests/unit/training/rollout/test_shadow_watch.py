"""How a shadow stage is judged from what its agents report (events built here, no broker)."""

from __future__ import annotations

from typing import Any

import pytest

from factoryloop.schemas import AgentEventType, ModelRef, Verdict
from tests.support.events import agent_event, heartbeat, outcome
from training.rollout.shadow import ShadowWatch
from training.rollout.watch import CanaryPolicy

P, F = Verdict.PASS, Verdict.FAIL
CHALLENGER, CHAMPION = ModelRef(name="m", version="7"), ModelRef(name="m", version="6")
DEP = "d" * 32


def watch(agents: tuple[str, ...] = ("agent-1",), **policy: Any) -> ShadowWatch:
    base: dict[str, Any] = {"min_shadow_frames": 10}
    return ShadowWatch(frozenset(agents), "7", DEP, CanaryPolicy(**(base | policy)), model_name="m")


def frames(w: ShadowWatch, verdicts: list[tuple[Verdict, Verdict]], agent: str = "agent-1") -> None:
    """Each (champion, shadow) pair as the agent publishes it: the serving outcome, then the shadow's."""
    for i, (champion, shadow) in enumerate(verdicts):
        frame = f"{agent}-f{i}"
        w.observe(outcome(agent_id=agent, frame_id=frame, verdict=champion, model=CHAMPION))
        w.observe(outcome(agent_id=agent, frame_id=frame, verdict=shadow, model=CHALLENGER, shadow=True))


@pytest.mark.parametrize(
    ("verdicts", "policy", "failure"),
    [
        ([(P, P)] * 20, {}, None),  # identical to the champion
        ([(F, F)] * 20, {}, None),
        ([(F, P)] * 20, {}, "lets pass 20 of the 20 frames the champion fails"),
        ([(F, P)] * 20, {"max_missed_rate": None, "max_disagreement": None}, None),  # nothing bounded
        # a new class: the challenger fails 3 of 20 frames the champion passes; the disagreement bounds it
        ([(P, P)] * 17 + [(P, F)] * 3, {}, None),
        ([(P, P)] * 17 + [(P, F)] * 3, {"max_disagreement": 0.1}, "differs from the champion's on 3 of 20"),
        ([(P, P)] * 10 + [(P, F)] * 10, {}, "differs from the champion's on 10 of 20"),
        ([(P, F)] * 20, {"max_disagreement": None}, None),  # extra rejects only: the missed rate is 0
        # one of 10 champion FAILs let pass: 0.1 is within max_missed_rate 0.1, over 0.05
        ([(F, F)] * 9 + [(F, P)] + [(P, P)] * 10, {}, None),
        ([(F, F)] * 9 + [(F, P)] + [(P, P)] * 10, {"max_missed_rate": 0.05}, "lets pass 1 of the 10"),
        ([(F, P)] * 9, {}, None),  # under min_shadow_frames: not judged yet
    ],
)
def test_judged_on_disagreement_and_the_missed_direction(
    verdicts: list[tuple[Verdict, Verdict]], policy: dict[str, Any], failure: str | None
) -> None:
    w = watch(**policy)
    frames(w, verdicts)
    failures = w.failures()
    if failure is None:
        assert failures == []
    else:
        assert any(failure in f for f in failures), failures


def test_outcomes_of_other_agents_models_or_serving_the_challenger_are_not_compared() -> None:
    w = watch()
    frames(w, [(F, P)] * 20, agent="agent-9")  # not a shadow agent of this stage
    w.observe(outcome(frame_id="x", verdict=F, model=ModelRef(name="other", version="6")))
    w.observe(outcome(frame_id="x", verdict=P, model=ModelRef(name="other", version="7"), shadow=True))
    w.observe(outcome(frame_id="y", verdict=F, model=CHALLENGER))  # the challenger serving: not a shadow
    w.observe(outcome(frame_id="y", verdict=P, model=CHALLENGER, shadow=True))
    assert w.join.tally.frames == 0 and w.failures() == []


@pytest.mark.parametrize(
    ("events", "per_agent", "agent_2_compared", "problem"),
    [
        ([heartbeat(shadow_model=CHALLENGER)], 10, True, None),
        ([], 10, True, None),  # no heartbeat yet: its shadow outcomes show it ran
        ([], 4, True, "only 8 frames judged by both"),  # too little evidence is no pass
        ([heartbeat(agent_id="agent-2", shadow_model=CHALLENGER)], 10, False, None),  # ran, nothing compared
        (
            [heartbeat(agent_id="agent-2", shadow_model=CHAMPION)],
            10,
            False,
            "never reported running the shadow",
        ),
        ([heartbeat(agent_id="agent-2")], 10, False, "never reported running the shadow: agent-2"),
        (
            [agent_event(agent_id="agent-2", type=AgentEventType.MODEL_REJECTED, deployment_id=DEP)],
            10,
            False,
            "model rejected by agent-2",
        ),
    ],
)
def test_end_of_window_problems(
    events: list[object], per_agent: int, agent_2_compared: bool, problem: str | None
) -> None:
    w = watch(agents=("agent-1", "agent-2"))
    frames(w, [(P, P)] * per_agent)
    if agent_2_compared:
        frames(w, [(P, P)] * per_agent, agent="agent-2")
    for event in events:
        w.observe(event)
    problems = w.problems()
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_evidence_carries_the_counts_and_rates_per_direction() -> None:
    w = watch()
    w.observe(heartbeat(shadow_model=CHALLENGER))
    frames(w, [(F, P)] * 2 + [(P, F)] * 3 + [(F, F)] * 5 + [(P, P)] * 10)
    ev = w.evidence()
    assert ev["shadow_frames"] == 20 and ev["shadow_outcomes"] == 20 and ev["agents_shadowing"] == 1
    assert ev["shadow_disagreement"] == 0.25
    assert ev["shadow_pass_champion_fail"] == 2 and ev["shadow_fail_champion_pass"] == 3
    assert ev["champion_fail_frames"] == 7 and ev["shadow_missed_rate"] == round(2 / 7, 4)
    assert ev["shadow_extra_reject_rate"] == 0.15


@pytest.mark.parametrize(
    ("policy", "limits"),
    [
        ({}, {"limit.max_disagreement": 0.2, "limit.max_missed_rate": 0.1, "limit.min_shadow_frames": 10}),
        ({"max_disagreement": None}, {"limit.max_missed_rate": 0.1, "limit.min_shadow_frames": 10}),
    ],
)
def test_evidence_names_the_limits_it_is_judged_against(
    policy: dict[str, Any], limits: dict[str, float]
) -> None:
    ev = watch(**policy).evidence()
    assert {k: v for k, v in ev.items() if k.startswith("limit.")} == limits
    assert ev["shadow_frames"] == 0  # before any frame: the dashboard shows 0 of 10 against the limits


def test_the_champion_half_is_whatever_the_agent_serves() -> None:
    """An agent still on the line's own first model (not in the registry, named after its file): its frames
    pair with the challenger's all the same; another model's shadow outcomes do not count."""
    w = watch()
    local = ModelRef(name="model", version="local")
    for i in range(10):
        w.observe(outcome(agent_id="agent-1", frame_id=f"f{i}", verdict=P, model=local))
        w.observe(outcome(agent_id="agent-1", frame_id=f"f{i}", verdict=F, model=CHALLENGER, shadow=True))
        w.observe(outcome(agent_id="agent-1", frame_id=f"f{i}", verdict=F, model=local, shadow=True))
    assert w.join.tally.frames == 10 and w.evidence()["shadow_fail_champion_pass"] == 10
    assert any("differs from the champion's on 10 of 10" in f for f in w.failures())
