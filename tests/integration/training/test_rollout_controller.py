"""The rollout controller on the real broker, MLflow and two real agents (in-process, real ONNX models served
over HTTP): a model that flags every frame is rolled back from its canary within the window, with the champion
unchanged and the reason in MLflow and on the rollouts topic; a healthy one promoted by the gate widens from
one agent to both and becomes the champion; two controllers of one installation: one acts, the other waits."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import Outcome, RolloutAction, RolloutEvent, RolloutRequest, RolloutState, Verdict
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import read_topic, wait_until
from tests.support.rollout_site import (
    PRODUCT,
    register_models,
    request,
    rollout_events,
    serving,
    start_agents,
)
from training.registry.models import CANARY, CHAMPION, ModelRegistry
from training.rollout.controller import RolloutController
from training.rollout.policy import AgentsStage, AllStage, Judge, RolloutPolicies, RolloutPolicy

pytest.importorskip("onnx")
POLICY = RolloutPolicy(
    window_s=8.0,
    stages=(AgentsStage(count=1), AllStage()),
    # latency is loose: the CI box is shared; the bad model is caught by what it decides
    judge=Judge(min_outcomes=10, max_latency_p99_ms=5000, max_latency_p99_ratio=50),
)


@dataclass
class Site:
    kafka: KafkaSettings
    registry: ModelRegistry
    controller: RolloutController
    agents: list[Agent]

    def serving(self) -> list[str]:
        return serving(self.agents)

    def events(self) -> list[RolloutEvent]:
        return rollout_events(self.kafka)


@pytest.fixture
def site(kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path) -> Iterator[Site]:
    registry, first_model = register_models(mlflow_server, tmp_path / "models")
    agents = start_agents(kafka_settings, mlflow_server, first_model, tmp_path)
    controller = RolloutController(
        kafka_settings, registry, RolloutPolicies(default=POLICY), session_timeout_ms=6000
    )
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(controller.leader.is_set, 60, "the controller to lead")
        wait_until(lambda: len(controller.fleet.agents(PRODUCT)) == 2, 30, "both agents' heartbeats")
        yield Site(kafka_settings, registry, controller, agents)
    finally:
        stop.set()
        thread.join(30)
        for agent in agents:
            agent.close()
    assert controller.error is None, controller.error


def _request(kafka: KafkaSettings, **fields: object) -> RolloutRequest:
    return request(kafka, **fields)


def _print_rollback_figures(
    kafka: KafkaSettings, *, story_events: list[RolloutEvent], request_id: str, done: datetime
) -> None:
    """docs/benchmarks.md "Canary rolled back": the bad model's first outcome (a FAIL: it flags every frame)
    -> both agents back on v1 (seen by the test's 0.1 s poll); and -> the ``rolled_back`` event (emitted
    once the rollback deployment is sent and MLflow has recorded it)."""
    outcomes = read_topic(kafka, TopicRole.OUTCOMES, timeout_s=30, idle_s=2)
    bad = [o for o in outcomes if isinstance(o, Outcome) and o.model.version == "2" and not o.shadow]
    fails = [o.captured_at for o in bad if o.verdict == Verdict.FAIL]
    assert fails, "the canary flagged nothing"
    first = min(fails)
    decided = next(
        e.ts for e in story_events if e.request_id == request_id and e.state == RolloutState.ROLLED_BACK
    )
    on_v1, event = (done - first).total_seconds(), (decided - first).total_seconds()
    print(
        f"FIGURE canary: {len(bad)} outcomes of v2 ({len(fails)} FAIL); first FAIL -> both agents on v1 "
        f"{on_v1:.2f} s; -> rolled_back event {event:.2f} s (judge: {POLICY.judge.min_outcomes} outcomes)"
    )


def test_bad_canary_rolled_back_then_a_good_one_widens_to_full(site: Site) -> None:
    # The fleet on v1 first: a straight (unstaged) deployment requested on the topic, as the API does.
    _request(site.kafka, action=RolloutAction.DEPLOY, model_version="1", staged=False)
    wait_until(lambda: site.serving() == ["1", "1"], 60, "both agents on v1")

    # A model that flags every frame: canary on one agent, caught by its defect rate, rolled back.
    bad = _request(site.kafka, action=RolloutAction.DEPLOY, model_version="2", reason="try v2")
    wait_until(lambda: site.serving()[0] == "2", 60, "the canary agent on v2")
    wait_until(lambda: site.serving() == ["1", "1"], 60, "the rollback to v1")
    back_on_v1 = datetime.now(UTC)
    v2 = site.registry.get(PRODUCT, "2")
    assert v2.tags["rollout.decision"] == "rolled_back" and "defect rate" in v2.tags["rollout.reason"]
    assert site.registry.alias(PRODUCT, CHAMPION).version == "1"  # type: ignore[union-attr]
    assert site.registry.alias(PRODUCT, CANARY) is None
    story = [(e.model_version, e.state) for e in site.events() if e.request_id == bad.request_id]
    assert story == [("2", RolloutState.CANARY), ("2", RolloutState.ROLLED_BACK)]
    assert site.agents[1].models.swaps == 1  # agent-b went to v1 once and never served v2
    _print_rollback_figures(
        site.kafka, story_events=site.events(), request_id=bad.request_id, done=back_on_v1
    )

    # A healthy model the gate promoted: canary on agent-a for the window, then every agent.
    site.controller.promoted(PRODUCT, "3", "gate: better on golden")
    wait_until(lambda: site.serving()[0] == "3", 60, "the canary agent on v3")
    assert site.serving()[1] == "1"
    wait_until(lambda: site.serving() == ["3", "3"], 60, "v3 on both agents")
    assert site.registry.alias(PRODUCT, CHAMPION).version == "3"  # type: ignore[union-attr]
    v3 = site.registry.get(PRODUCT, "3")
    assert v3.tags["rollout.decision"] == "full" and v3.tags["previous_champion"] == "1"
    gate = [e for e in site.events() if e.actor == "gate"]
    assert [e.state for e in gate] == [RolloutState.CANARY, RolloutState.FULL]
    assert gate[0].agents == ("agent-a",) and set(gate[1].agents) == {"agent-a", "agent-b"}

    # A rollback asked for on the topic: every agent back to the previous champion.
    back = _request(site.kafka, action=RolloutAction.ROLLBACK, reason="engineer's call")
    wait_until(lambda: site.serving() == ["1", "1"], 60, "the requested rollback to v1")
    assert site.registry.alias(PRODUCT, CHAMPION).version == "1"  # type: ignore[union-attr]
    done = [e for e in site.events() if e.request_id == back.request_id]
    assert [e.state for e in done] == [RolloutState.ROLLED_BACK] and "engineer's call" in done[0].reason

    # Every deployment names the product and is keyed by it: another product's agents never take it, and
    # compaction keeps one record per product and target (a fleet deployment of A never erases B's).
    with TypedConsumer(site.kafka, [TopicRole.DEPLOYMENTS], None) as consumer:
        records = [r for _ in range(10) for r in consumer.poll(timeout_ms=500)]
    assert len(records) == 6  # v1 full; v2 canary, rollback; v3 canary, full; rollback
    assert {(r.key, r.event.product) for r in records} == {(f"{PRODUCT}/fleet".encode(), PRODUCT)}


def test_requests_that_cannot_be_carried_out_are_refused_with_the_reason(site: Site) -> None:
    unknown = _request(site.kafka, action=RolloutAction.DEPLOY, model_version="99")
    stale = RolloutRequest(
        request_id=uuid.uuid4().hex,
        product=PRODUCT,
        action=RolloutAction.DEPLOY,
        model_version="3",
        requested_by="engineer",
        ts=datetime(2020, 1, 1, tzinfo=UTC),
    )
    with EventProducer(site.kafka) as producer:
        producer.send_sync(TopicRole.ROLLOUTS, stale, key=PRODUCT)

    def refused() -> dict[str, str]:
        return {e.request_id or "": e.reason for e in site.events() if e.state is RolloutState.REFUSED}

    wait_until(lambda: len(refused()) == 2, 60, "both refusals")
    assert "99" in refused()[unknown.request_id]
    assert "ask again" in refused()[stale.request_id]
    assert site.serving() == ["local", "local"]


def test_two_controllers_one_acts_the_other_waits(kafka_settings: KafkaSettings, mlflow_server: str) -> None:
    registry = ModelRegistry(mlflow_server, f"t{uuid.uuid4().hex[:8]}-")
    stops = [threading.Event(), threading.Event()]
    controllers = [
        RolloutController(kafka_settings, registry, RolloutPolicies(), session_timeout_ms=6000) for _ in stops
    ]
    threads = [
        threading.Thread(target=c.run, args=(s,), daemon=True)
        for c, s in zip(controllers, stops, strict=True)
    ]
    threads[0].start()
    wait_until(controllers[0].leader.is_set, 60, "the first controller to lead")
    threads[1].start()
    wait_until(controllers[1].ready.is_set, 60, "the second controller to join")
    time.sleep(5)  # a rebalance for the newcomer: the sticky assignor keeps the partition where it was
    assert controllers[0].leader.is_set() and not controllers[1].leader.is_set()
    stops[0].set()
    threads[0].join(30)
    wait_until(controllers[1].leader.is_set, 60, "the second controller to take over")
    stops[1].set()
    threads[1].join(30)
    assert all(c.error is None for c in controllers)
