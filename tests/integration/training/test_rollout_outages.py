"""The rollout controller when MLflow or Kafka dies in the middle of a canary: real servers of this test
alone, stopped and started again with their data (the session's servers are not touched), two real agents.

- MLflow down while the canary's window ends, or while supervisors overrule the canary: the controller does
  not crash, deploys nothing it could not record in MLflow first, says what it waits for (its log, its
  ``waiting``, a ``progress`` event on the rollouts topic), and once MLflow answers again goes on to every
  agent, or rolls back, as the policy says.
- Kafka down in the middle of a canary, started again with its data: the controller keeps the rollout (no
  split fleet with no owner), judges a new window of live evidence and finishes it, and reads requests again.

The time from the server back to the rollout's next step is printed (docs/benchmarks.md, "Rollout").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from factoryloop.kafka import EventProducer, ensure_topics
from factoryloop.schemas import Label, Outcome, ReviewAction, RolloutAction, RolloutEvent, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.stack.mlflow_server import MlflowServer
from factoryloop.stack.process import free_ports
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
from training.rollout.controller import RolloutController
from training.rollout.policy import AgentsStage, AllStage, Judge, RolloutPolicies, RolloutPolicy

pytest.importorskip("onnx")
WINDOW_S = 8.0


def policies(window_s: float = WINDOW_S) -> RolloutPolicies:
    return RolloutPolicies(
        default=RolloutPolicy(
            window_s=window_s,
            stages=(AgentsStage(count=1), AllStage()),
            judge=Judge(min_outcomes=10, min_reviews=5, max_latency_p99_ms=5000, max_latency_p99_ratio=50),
        )
    )


@dataclass
class Site:
    kafka: KafkaSettings
    registry: ModelRegistry
    agents: list[Agent]
    controller: RolloutController

    def serving(self) -> list[str]:
        return serving(self.agents)

    def canary_of_v3(self) -> str:
        """v3 asked through the stages (the agents serve a model of their own, the champion is v1): its
        canary on agent-a; the request id."""
        asked = request(self.kafka, action=RolloutAction.DEPLOY, model_version="3", reason="ship v3")
        wait_until(lambda: self.serving() == ["3", "local"], 60, "the canary agent on v3")
        return asked.request_id

    def story(self, request_id: str, last: RolloutState) -> list[RolloutEvent]:
        """The request's events up to ``last`` (progress events included)."""
        wait_until(
            lambda: any(e.state is last for e in wait_for_events(self.kafka, request_id, 1, 5)),
            60,
            f"a {last.value} event",
        )
        return wait_for_events(self.kafka, request_id, 1)


@contextmanager
def site_on(
    kafka: KafkaSettings, mlflow_uri: str, tmp_path: Path, window_s: float = WINDOW_S
) -> Iterator[Site]:
    registry, first_model = register_models(mlflow_uri, tmp_path / "models")
    agents = start_agents(kafka, mlflow_uri, first_model, tmp_path)
    try:
        with running_controller(kafka, registry, policies(window_s), retry_s=1.0) as controller:
            yield Site(kafka, registry, agents, controller)
    finally:
        for agent in agents:
            agent.close()


@pytest.fixture
def own_mlflow(tmp_path: Path) -> Iterator[MlflowServer]:
    """An MLflow server of this test only (its own SQLite and artifacts): stopped and started at will."""
    server = MlflowServer(tmp_path / "mlflow", free_ports(1)[0])
    try:
        server.start(timeout_s=120.0)
        yield server
    finally:
        server.stop()


def overrule(kafka: KafkaSettings, version: str, n: int) -> None:
    """Supervisors reject ``n`` of the canary's outcomes (the model saw defects that are not there)."""
    seen = read_topic(kafka, TopicRole.OUTCOMES, timeout_s=30, idle_s=1)
    canary = [o for o in seen if isinstance(o, Outcome) and o.model.version == version and not o.shadow]
    assert len(canary) >= n, f"only {len(canary)} canary outcomes"
    with EventProducer(kafka) as producer:
        for o in canary[-n:]:
            label = Label(
                line_id=o.line_id,
                station_id=o.station_id,
                agent_id=o.agent_id,
                outcome_event_id=o.event_id,
                frame_sha256=o.frame_sha256,
                action=ReviewAction.REJECT,
                reviewer="alice",
            )
            producer.send_sync(TopicRole.LABELS, label, key=o.station_key)


def report(what: str, seconds: float) -> None:
    logging.getLogger(__name__).warning("%s: %.1f s", what, seconds)
    print(f"\nFIGURE {what}: {seconds:.1f} s")


@pytest.mark.parametrize(
    ("overruled", "ending", "fleet", "wanted"),
    [
        (False, RolloutState.FULL, ["3", "3"], "every agent"),
        (True, RolloutState.ROLLED_BACK, ["1", "1"], "roll back"),
    ],
    ids=["window-ends-while-down", "canary-fails-while-down"],
)
def test_mlflow_down_mid_canary_nothing_deployed_until_recorded(
    kafka_settings: KafkaSettings,
    own_mlflow: MlflowServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    overruled: bool,
    ending: RolloutState,
    fleet: list[str],
    wanted: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="training.rollout")
    # the overruled canary fails on its reviews at any time: a window far longer than the overrule takes
    # under load, so the reviews (not the window's end) decide it
    window_s = 300.0 if overruled else WINDOW_S
    with site_on(kafka_settings, own_mlflow.uri, tmp_path, window_s) as site:
        asked = site.canary_of_v3()
        own_mlflow.stop()
        if overruled:
            overrule(site.kafka, "3", 5)
        waiting: Callable[[], str] = lambda: site.controller.waiting.get(PRODUCT, "")  # noqa: E731
        wait_until(lambda: wanted in waiting(), 60, f"the controller to wait for MLflow to {wanted}")
        assert "MLflow" in waiting() and own_mlflow.uri in waiting(), waiting()
        time.sleep(3.0)  # several judging ticks and MLflow probes more: still nothing deployed
        assert site.serving() == ["3", "local"]
        assert site.controller.error is None and site.controller.leader.is_set()
        assert any("MLflow" in r.getMessage() and wanted in r.getMessage() for r in caplog.records)

        own_mlflow.start(timeout_s=120.0)
        back = time.time()
        wait_until(lambda: not site.controller.mlflow.is_down, 60, "the controller to see MLflow back")
        seen_back = time.time() - back
        wait_until(lambda: site.serving() == fleet, 60, f"the fleet on {fleet} once MLflow is back")
        events = site.story(asked, ending)
        assert site.controller.waiting == {}
        assert site.controller.error is None

    notes = [e for e in events if e.progress]
    assert notes and all("MLflow" in e.reason for e in notes), events
    assert [e.state for e in events if not e.progress] == [RolloutState.CANARY, ending], events
    report("MLflow back -> seen by the controller", seen_back)
    report(f"MLflow back -> {ending.value} published", events[-1].ts.timestamp() - back)
    registry = site.registry
    assert registry.alias(PRODUCT, CANARY) is None
    assert registry.alias(PRODUCT, CHAMPION).version == ("3" if not overruled else "1")  # type: ignore[union-attr]
    assert registry.get(PRODUCT, "3").tags["rollout.decision"] == ending.value
    if overruled:
        assert "override rate" in events[-1].reason


@pytest.mark.kafka
def test_kafka_down_mid_canary_the_rollout_resumes_and_finishes(
    stoppable_kafka: KafkaCluster, mlflow_server: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(bootstrap_servers=stoppable_kafka.bootstrap, topic_prefix="outage.")
    ensure_topics(kafka)
    with site_on(kafka, mlflow_server, tmp_path) as site:
        asked = site.canary_of_v3()
        stoppable_kafka.stop()
        down = time.monotonic()
        waiting = lambda: site.controller.waiting.get(PRODUCT, "")  # noqa: E731
        wait_until(lambda: "Kafka" in waiting(), 30, "the controller to say it waits for Kafka")
        assert "window restarts once it answers" in waiting(), waiting()
        time.sleep(max(0.0, WINDOW_S + 2 - (time.monotonic() - down)))  # the window ends in the outage
        assert site.serving() == ["3", "local"]
        assert site.controller.error is None
        stoppable_kafka.start(timeout_s=120.0)
        back = time.time()
        wait_until(lambda: not site.controller.kafka_link.is_down, 60, "the controller to see Kafka back")
        seen_back = time.time() - back
        wait_until(lambda: site.serving() == ["3", "3"], 90, "v3 on both agents once Kafka is back")
        events = site.story(asked, RolloutState.FULL)
        # Requests are read again after the outage: an engineer's rollback is carried out.
        request(kafka, action=RolloutAction.ROLLBACK, reason="asked after the outage")
        wait_until(lambda: site.serving() == ["1", "1"], 60, "the rollback asked after the outage")
        assert site.controller.error is None and site.controller.leader.is_set()

    # One canary, then every agent: the same rollout carried on (not dropped and resumed from MLflow).
    assert [e.state for e in events if not e.progress] == [RolloutState.CANARY, RolloutState.FULL], events
    report("Kafka back -> seen by the controller (window restarted)", seen_back)
    report(
        f"Kafka back -> full published (after a new {WINDOW_S:.0f} s window)",
        events[-1].ts.timestamp() - back,
    )
    assert site.registry.alias(PRODUCT, CANARY) is None
    assert site.registry.alias(PRODUCT, CHAMPION).version == "1"  # type: ignore[union-attr]  # rolled back after
