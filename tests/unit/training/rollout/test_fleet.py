"""The fleet as heartbeats tell it, and how a policy's stages resolve to cumulative agent sets."""

from __future__ import annotations

import re

import pytest

from factoryloop.schemas import ModelRef
from factoryloop.schemas.rollouts import ShadowAsk
from tests.support.events import heartbeat
from training.errors import RolloutError
from training.rollout.fleet import (
    AgentSeen,
    FleetView,
    asked_shadow_stages,
    resolve_shadow_stages,
    resolve_stages,
)
from training.rollout.policy import (
    AgentsStage,
    AllStage,
    FractionStage,
    LinesStage,
    RolloutPolicy,
    ShadowStage,
)


def agents(n: int, lines: int = 2) -> list[AgentSeen]:
    return [AgentSeen(f"a{i}", f"line-{i % lines}", "p", "m", "1", 0.0) for i in range(n)]


@pytest.mark.parametrize(
    ("stages", "n", "expected"),
    [
        ((AgentsStage(count=1),), 4, [("a0",), ()]),
        ((AgentsStage(count=1),), 1, [()]),  # one agent: straight to all
        ((AgentsStage(count=1),), 0, [()]),
        ((AgentsStage(agents=("a2", "zz")),), 4, [("a2",), ()]),  # unknown names ignored
        ((AgentsStage(agents=("zz",)),), 4, [()]),  # a stage that adds nobody is dropped
        ((AgentsStage(count=1), FractionStage(fraction=0.5)), 4, [("a0",), ("a0", "a1"), ()]),
        ((FractionStage(fraction=0.01),), 10, [("a0",), ()]),  # at least one agent
        ((FractionStage(fraction=1.0),), 3, [()]),  # everyone: that is the last stage
        ((AgentsStage(count=1), LinesStage(lines=("line-1",))), 4, [("a0",), ("a0", "a1", "a3"), ()]),
        ((AgentsStage(count=2), AgentsStage(count=1)), 4, [("a0", "a1"), ()]),  # never narrower
    ],
)
def test_stages_are_cumulative_and_end_with_everyone(
    stages: tuple[object, ...], n: int, expected: list[tuple[str, ...]]
) -> None:
    policy = RolloutPolicy(stages=(*stages, AllStage()))  # type: ignore[arg-type]
    assert resolve_stages(policy, agents(n)) == expected


@pytest.mark.parametrize(
    ("stages", "n", "shadows", "serving"),
    [
        ((ShadowStage(count=1), AgentsStage(count=1)), 4, [(("a0",), 1.0)], [("a0",), ()]),
        ((ShadowStage(count=1),), 1, [(("a0",), 1.0)], [()]),  # one agent: a shadow, then all
        ((ShadowStage(fraction=1.0, sample_rate=0.5),), 3, [(("a0", "a1", "a2"), 0.5)], [()]),
        ((ShadowStage(fraction=0.01),), 10, [(("a0",), 1.0)], [()]),  # at least one agent
        ((ShadowStage(agents=("a3", "zz")),), 4, [(("a3",), 1.0)], [()]),  # unknown names ignored
        ((ShadowStage(agents=("zz",)), AgentsStage(count=1)), 4, [], [("a0",), ()]),  # nobody: dropped
        ((ShadowStage(count=1),), 0, [], [()]),
        (  # not cumulative; the same stage twice runs once
            (ShadowStage(count=2), ShadowStage(count=2), ShadowStage(agents=("a3",))),
            4,
            [(("a0", "a1"), 1.0), (("a3",), 1.0)],
            [()],
        ),
    ],
)
def test_shadow_stages_resolve_apart_from_the_serving_stages(
    stages: tuple[object, ...],
    n: int,
    shadows: list[tuple[tuple[str, ...], float]],
    serving: list[tuple[str, ...]],
) -> None:
    policy = RolloutPolicy(stages=(*stages, AllStage()))  # type: ignore[arg-type]
    assert resolve_shadow_stages(policy, agents(n)) == shadows
    assert resolve_stages(policy, agents(n)) == serving


def test_fleet_view_keeps_live_agents_of_the_product_on_the_target() -> None:
    now = [0.0]
    fleet = FleetView(stale_s=10, clock=lambda: now[0])
    v2 = ModelRef(name="m", version="2")
    fleet.observe(heartbeat(agent_id="a1", line_id="line-1", product="p", model=v2))
    fleet.observe(heartbeat(agent_id="a2", line_id="line-2", product="p"))
    fleet.observe(heartbeat(agent_id="b1", line_id="line-1", product="q"))
    assert [a.agent_id for a in fleet.agents("p")] == ["a1", "a2"]
    assert [a.agent_id for a in fleet.agents("p", "line-2")] == ["a2"]
    assert fleet.agents("p")[0].model_version == "2" and fleet.agents("p")[1].model_version is None
    now[0] = 11.0
    fleet.observe(heartbeat(agent_id="a2", line_id="line-2", product="p"))
    assert [a.agent_id for a in fleet.agents("p")] == ["a2"]  # a1 went quiet


@pytest.mark.parametrize(
    ("ask", "policy_stages", "n", "expected", "error"),
    [
        (ShadowAsk(agents=("a2",), sample_rate=0.5), (), 4, [(("a2",), 0.5)], None),
        (ShadowAsk(agents=("a3", "a1")), (), 4, [(("a1", "a3"), 1.0)], None),  # in id order
        (ShadowAsk(), (), 4, [(("a0",), 1.0)], None),  # the first agent
        (ShadowAsk(sample_rate=0.2), (ShadowStage(count=2),), 4, [(("a0", "a1"), 0.2)], None),  # the policy's
        (ShadowAsk(agents=("a1", "zz")), (), 4, None, "zz: not live agent(s) of p (live: a0, a1, a2, a3)"),
        (ShadowAsk(), (), 0, None, "no live agent of p"),
    ],
)
def test_an_asked_shadow_runs_on_live_agents_only(
    ask: ShadowAsk,
    policy_stages: tuple[object, ...],
    n: int,
    expected: list[tuple[tuple[str, ...], float]] | None,
    error: str | None,
) -> None:
    policy = RolloutPolicy(stages=(*policy_stages, AgentsStage(count=1)))  # type: ignore[arg-type]
    if error is not None:
        with pytest.raises(RolloutError, match=re.escape(error)):
            asked_shadow_stages(ask, policy, agents(n), "p")
    else:
        assert asked_shadow_stages(ask, policy, agents(n), "p") == expected
