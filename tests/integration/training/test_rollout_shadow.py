"""Shadow stages on the real broker, MLflow and two real agents (in-process, real ONNX models served by
MLflow): the challenger runs beside the champion, never acting, and is judged frame by frame on its
disagreement with the champion.

- a challenger that lets pass every frame the champion fails (the direction the policy bounds) is rolled back
  from its shadow stage: no agent ever served it, the shadow ends, the champion stays;
- a challenger that decides as the champion does passes its shadow stage on both agents (its figures reported
  while it runs), then its canary on one, which ends the other's shadow, then every agent;
- a shadow asked for by an engineer (``RolloutRequest.shadow``, what the API's ``strategy: shadow`` asks) on
  one agent, of a model that fails what the champion passes, with no model to roll back to: the shadow ends
  all the same (an ``end_shadow`` deployment).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from factoryloop.schemas import Outcome, RolloutAction, RolloutEvent, RolloutState, Strategy
from factoryloop.schemas.rollouts import ShadowAsk
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import read_topic, wait_until
from tests.support.rollout_site import (
    PRODUCT,
    register_models,
    request,
    running_controller,
    serving,
    start_agents,
    wait_for_events,
)
from training.registry.models import CANARY, CHAMPION, ModelRegistry
from training.rollout.policy import AgentsStage, AllStage, Judge, RolloutPolicies, RolloutPolicy, ShadowStage

pytest.importorskip("onnx")
JUDGE = Judge(
    max_disagreement=None,  # only the bounded direction judges here: the reason must name it
    max_missed_rate=0.1,
    min_shadow_frames=10,
    min_outcomes=10,
    max_latency_p99_ms=5000,  # latency is loose: the CI box is shared
    max_latency_p99_ratio=50,
)
ONE_SHADOW = RolloutPolicy(
    window_s=10.0, stages=(ShadowStage(count=1), AgentsStage(count=1), AllStage()), judge=JUDGE
)
BOTH_SHADOW = ONE_SHADOW.model_copy(
    update={"stages": (ShadowStage(count=2), AgentsStage(count=1), AllStage())}
)
NO_SHADOW = RolloutPolicy(  # the shadow comes from the request; any disagreement over 0.2 fails it
    window_s=10.0,
    stages=(AgentsStage(count=1), AllStage()),
    judge=JUDGE.model_copy(update={"max_disagreement": 0.2}),
)
WAIT_S = 240  # generous: the box is loaded


@dataclass
class Site:
    kafka: KafkaSettings
    registry: ModelRegistry
    agents: list[Agent]

    def fleet_on(self, version: str) -> None:
        """Every agent on ``version``, straight (no stages), as an engineer asks."""
        request(self.kafka, action=RolloutAction.DEPLOY, model_version=version, staged=False)
        wait_until(lambda: serving(self.agents) == [version, version], WAIT_S, f"both agents on v{version}")

    def shadow_runs(self, agent: int) -> int:
        return self.agents[agent].stats.snapshot().get("shadow_inspected", 0)


@pytest.fixture
def site(
    request: pytest.FixtureRequest, kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path
) -> Iterator[Site]:
    """Parametrised (indirect) with the rollout policy."""
    registry, first_model = register_models(mlflow_server, tmp_path / "models")
    agents = start_agents(kafka_settings, mlflow_server, first_model, tmp_path)
    policies = RolloutPolicies(default=request.param)
    try:
        with running_controller(kafka_settings, registry, policies, progress_s=2.0):
            yield Site(kafka_settings, registry, agents)
    finally:
        for agent in agents:
            agent.close()


def outcomes(kafka: KafkaSettings) -> list[Outcome]:
    return [
        o for o in read_topic(kafka, TopicRole.OUTCOMES, timeout_s=60, idle_s=3) if isinstance(o, Outcome)
    ]


@pytest.mark.parametrize("site", [ONE_SHADOW], indirect=True)
def test_a_challenger_that_lets_pass_what_the_champion_fails_is_rolled_back_from_its_shadow(
    site: Site,
) -> None:
    site.fleet_on("2")  # the champion flags every frame
    shadowed = request(site.kafka, action=RolloutAction.DEPLOY, model_version="3", reason="shadow first")

    events = transitions(site.kafka, shadowed.request_id, 2)
    assert [e.state for e in events] == [RolloutState.SHADOW, RolloutState.ROLLED_BACK], events
    assert events[0].agents == ("agent-a",)
    back = events[1]
    assert "lets pass" in back.reason and "champion fails" in back.reason, back.reason
    ev = back.evidence
    assert ev["shadow_frames"] >= 10 and ev["agents_shadowing"] == 1
    assert ev["shadow_pass_champion_fail"] == ev["shadow_frames"] == ev["champion_fail_frames"]
    assert ev["shadow_missed_rate"] == 1.0 and ev["shadow_fail_champion_pass"] == 0

    v3 = site.registry.get(PRODUCT, "3")
    assert v3.tags["rollout.decision"] == "rolled_back" and "lets pass" in v3.tags["rollout.reason"]
    assert json.loads(v3.tags["rollout.evidence"])["shadow_missed_rate"] == 1.0
    assert site.registry.alias(PRODUCT, CHAMPION).version == "2"  # type: ignore[union-attr]
    assert site.registry.alias(PRODUCT, CANARY) is None

    # The rollback ended the shadow on agent-a; agent-b never ran it; both kept deciding with v2.
    wait_until(lambda: site.agents[0].models.shadow is None, WAIT_S, "the shadow to end on agent-a")
    assert site.agents[0].heartbeat().shadow_model is None
    assert site.shadow_runs(0) > 0 and site.shadow_runs(1) == 0
    assert serving(site.agents) == ["2", "2"]
    seen = outcomes(site.kafka)
    acted = {o.model.version for o in seen if not o.shadow}
    assert acted <= {"local", "2"} and "2" in acted, acted  # no agent ever served v3
    shadows = {(o.agent_id, o.model.version) for o in seen if o.shadow}
    assert shadows == {("agent-a", "3")}, shadows


@pytest.mark.parametrize("site", [BOTH_SHADOW], indirect=True)
def test_a_challenger_that_decides_as_the_champion_passes_its_shadow_and_goes_on(site: Site) -> None:
    # The agents serve a model that passes every frame (the registry's champion is v1); so does v3.
    req = request(site.kafka, action=RolloutAction.DEPLOY, model_version="3", reason="shadow first")
    wait_until(lambda: all(a.models.shadow for a in site.agents), WAIT_S, "v3 in shadow on both agents")
    # The canary on agent-a ends agent-b's shadow (before the full deployment: agent-b still on its model).
    wait_until(
        lambda: site.agents[1].models.shadow is None and serving(site.agents) == ["3", "local"],
        WAIT_S,
        "the canary on agent-a, agent-b's shadow ended",
    )

    everything = wait_for_events(site.kafka, req.request_id, 3, timeout_s=WAIT_S)
    wait_until(lambda: serving(site.agents) == ["3", "3"], WAIT_S, "v3 on both agents")
    events = transitions(site.kafka, req.request_id, 3)
    states = [e.state for e in events]
    assert states == [RolloutState.SHADOW, RolloutState.CANARY, RolloutState.FULL], events
    assert events[0].agents == ("agent-a", "agent-b") and events[1].agents == ("agent-a",)
    passed = events[1].evidence  # the shadow stage's evidence, kept with the stage it led to
    assert passed["shadow_frames"] >= 10 and passed["shadow_disagreement"] == 0.0, passed
    assert passed["agents_shadowing"] == 2 and passed["limit.min_shadow_frames"] == 10
    assert "shadow agreed with the champion" in events[1].reason
    # While the shadow ran, its figures so far were reported (what the dashboard shows against the limits).
    live = [e for e in everything if e.progress]
    assert live and all(e.state is RolloutState.SHADOW for e in live), everything
    assert "shadow_frames" in live[-1].evidence and live[-1].evidence["limit.max_missed_rate"] == 0.1

    assert site.registry.alias(PRODUCT, CHAMPION).version == "3"  # type: ignore[union-attr]
    v3 = site.registry.get(PRODUCT, "3")
    assert v3.tags["rollout.decision"] == "full"
    assert json.loads(v3.tags["rollout.stage0.evidence"])["shadow_frames"] >= 10
    assert json.loads(v3.tags["rollout.shadow_rates"]) == [1.0]
    assert all(a.models.shadow is None for a in site.agents) and site.shadow_runs(1) > 0


@pytest.mark.parametrize("site", [NO_SHADOW], indirect=True)
def test_a_shadow_asked_for_with_nothing_to_go_back_to_still_ends_on_failure(site: Site) -> None:
    site.registry.delete_alias(PRODUCT, CHAMPION)  # no champion, no previous: nothing to roll back to
    asked = request(
        site.kafka,
        action=RolloutAction.DEPLOY,
        model_version="2",  # flags every frame the agents' own model passes
        shadow=ShadowAsk(agents=("agent-b",)),
        reason="try v2 beside the line's model",
    )
    events = transitions(site.kafka, asked.request_id, 2)
    assert [e.state for e in events] == [RolloutState.SHADOW, RolloutState.ROLLED_BACK], events
    assert events[0].agents == ("agent-b",)
    assert "differs from the champion's" in events[1].reason and "shadow ended" in events[1].reason
    wait_until(lambda: site.agents[1].models.shadow is None, WAIT_S, "the shadow to end on agent-b")
    assert site.shadow_runs(1) > 0 and site.shadow_runs(0) == 0
    assert serving(site.agents) == ["local", "local"]  # nobody served v2, nobody was sent another model
    ended = [d for d in read_topic(site.kafka, TopicRole.DEPLOYMENTS, timeout_s=30, idle_s=2)]
    assert [d.strategy for d in ended] == [Strategy.SHADOW, Strategy.END_SHADOW], ended
    assert ended[1].model_version == "2" and ended[1].canary_agents == ()
    v2 = site.registry.get(PRODUCT, "2")
    assert v2.tags["rollout.decision"] == "rolled_back"
    assert site.registry.alias(PRODUCT, CANARY) is None and site.registry.alias(PRODUCT, CHAMPION) is None
    acted = {o.model.version for o in outcomes(site.kafka) if not o.shadow}
    assert acted == {"local"}, acted


def transitions(kafka: KafkaSettings, request_id: str, n: int) -> list[RolloutEvent]:
    """The request's first ``n`` transitions (progress events left out)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        events = [e for e in wait_for_events(kafka, request_id, n, timeout_s=5) if not e.progress]
        if len(events) >= n or time.monotonic() > deadline:
            return events
