"""A shadow stage on the real broker, MLflow and two real agents (in-process, real ONNX models served by
MLflow): the challenger runs beside the champion on one agent, never acting, and is judged frame by frame on
its disagreement with the champion.

- a challenger that lets pass every frame the champion fails (the direction the policy bounds) is rolled back
  from its shadow stage: no agent ever served it, the shadow ends, the champion stays;
- a challenger that decides as the champion does passes the shadow stage, then its canary, then every agent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from factoryloop.schemas import Outcome, RolloutAction, RolloutState
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
POLICY = RolloutPolicy(
    window_s=10.0,
    stages=(ShadowStage(count=1), AgentsStage(count=1), AllStage()),
    judge=Judge(
        max_disagreement=None,  # only the bounded direction judges here: the reason must name it
        max_missed_rate=0.1,
        min_shadow_frames=10,
        min_outcomes=10,
        max_latency_p99_ms=5000,  # latency is loose: the CI box is shared
        max_latency_p99_ratio=50,
    ),
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
def site(kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path) -> Iterator[Site]:
    registry, first_model = register_models(mlflow_server, tmp_path / "models")
    agents = start_agents(kafka_settings, mlflow_server, first_model, tmp_path)
    try:
        with running_controller(kafka_settings, registry, RolloutPolicies(default=POLICY)):
            yield Site(kafka_settings, registry, agents)
    finally:
        for agent in agents:
            agent.close()


def outcomes(kafka: KafkaSettings) -> list[Outcome]:
    return [
        o for o in read_topic(kafka, TopicRole.OUTCOMES, timeout_s=60, idle_s=3) if isinstance(o, Outcome)
    ]


def test_a_challenger_that_lets_pass_what_the_champion_fails_is_rolled_back_from_its_shadow(
    site: Site,
) -> None:
    site.fleet_on("2")  # the champion flags every frame
    shadowed = request(site.kafka, action=RolloutAction.DEPLOY, model_version="3", reason="shadow first")

    events = wait_for_events(site.kafka, shadowed.request_id, 2, timeout_s=WAIT_S)
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


def test_a_challenger_that_decides_as_the_champion_passes_its_shadow_and_goes_on(site: Site) -> None:
    site.fleet_on("1")  # the champion passes every frame; so does v3
    req = request(site.kafka, action=RolloutAction.DEPLOY, model_version="3", reason="shadow first")

    events = wait_for_events(site.kafka, req.request_id, 3, timeout_s=WAIT_S)
    states = [e.state for e in events]
    assert states == [RolloutState.SHADOW, RolloutState.CANARY, RolloutState.FULL], events
    assert events[0].agents == ("agent-a",) and events[1].agents == ("agent-a",)
    passed = events[1].evidence  # the shadow stage's evidence, kept with the stage it led to
    assert passed["shadow_frames"] >= 10 and passed["shadow_disagreement"] == 0.0, passed
    assert "shadow agreed with the champion" in events[1].reason

    wait_until(lambda: serving(site.agents) == ["3", "3"], WAIT_S, "v3 on both agents")
    assert site.registry.alias(PRODUCT, CHAMPION).version == "3"  # type: ignore[union-attr]
    v3 = site.registry.get(PRODUCT, "3")
    assert v3.tags["rollout.decision"] == "full"
    assert json.loads(v3.tags["rollout.stage0.evidence"])["shadow_frames"] >= 10
    assert json.loads(v3.tags["rollout.shadow_rates"]) == [1.0]
    # agent-a's shadow became its model (the canary); agent-b never ran one
    assert site.agents[0].models.shadow is None and site.shadow_runs(1) == 0
