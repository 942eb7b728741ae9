"""The rollout controller when MLflow or Kafka dies in the middle of a canary: real servers of this test
alone, stopped and started again with their data (the session's servers are not touched), two real agents.

- MLflow down while the canary's window ends: the controller does not crash, widens nothing it could not
  record in MLflow first, says what it waits for (its log, its ``waiting``, a ``progress`` event on the
  rollouts topic), and once MLflow answers again goes on to every agent.
- MLflow down while supervisors overrule the canary (or an engineer asks for a rollback): the rollback is
  not held by MLflow. The controller
  journals it (local disk), sends it at once, says it waits for MLflow to record it, and records it once
  MLflow answers. The agents are back on the champion while MLflow is down: with the model files served
  apart from the tracking server they fetch it; with MLflow serving them (the local stack) the canary agent
  loads the champion it served before the canary from its own disk (no download). A controller restarted
  while the journal holds the rollback does not resume the canary from MLflow's stale aliases.
- Kafka down in the middle of a canary, started again with its data: the controller keeps the rollout (no
  split fleet with no owner), judges a new window of live evidence and finishes it, and reads requests again.

The time from the server back to the rollout's next step is printed (docs/benchmarks.md, "Rollout").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from factoryloop.kafka import EventProducer, ensure_topics
from factoryloop.schemas import Label, Outcome, ReviewAction, RolloutAction, RolloutEvent, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.stack.mlflow_server import MlflowServer, mlflow_executable
from factoryloop.stack.process import free_ports
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import read_topic, wait_until
from tests.support.rollout_site import (
    PRODUCT,
    register_models,
    running_controller,
    serving,
    start_agents,
    wait_for_events,
)
from tests.support.rollout_site import request as ask
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
    policies: RolloutPolicies
    journal: Path  # the controller's rollout journal
    controller: RolloutController = field(init=False)
    _running: ExitStack = field(default_factory=ExitStack)

    def start_controller(self) -> None:
        controller = running_controller(
            self.kafka, self.registry, self.policies, retry_s=1.0, journal_dir=self.journal
        )
        self.controller = self._running.enter_context(controller)

    def restart_controller(self, journal: Path | None = None) -> None:
        """The controller stopped and a new one started: on the same journal (a trainer restarted), or on
        ``journal`` (another trainer takes over; the first one's journal stays on its machine)."""
        self._running.close()
        self._running = ExitStack()
        self.journal = journal or self.journal
        self.start_controller()

    def serving(self) -> list[str]:
        return serving(self.agents)

    def canary_of_v3(self, champion_first: bool = False) -> str:
        """v3 asked through the stages (the agents serve a model of their own, or with ``champion_first``
        the champion v1): its canary on agent-a; the request id."""
        before = "local"
        if champion_first:
            ask(self.kafka, action=RolloutAction.DEPLOY, model_version="1", staged=False, reason="champion")
            wait_until(lambda: self.serving() == ["1", "1"], 60, "both agents on the champion v1")
            before = "1"
        asked = ask(self.kafka, action=RolloutAction.DEPLOY, model_version="3", reason="ship v3")
        wait_until(lambda: self.serving() == ["3", before], 60, "the canary agent on v3")
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
    kafka: KafkaSettings,
    mlflow_uri: str,
    tmp_path: Path,
    window_s: float = WINDOW_S,
    artifacts_uri: str | None = None,
) -> Iterator[Site]:
    """``artifacts_uri``: where the agents fetch model files (default: the tracking server)."""
    registry, first_model = register_models(mlflow_uri, tmp_path / "models")
    agents = start_agents(kafka, artifacts_uri or mlflow_uri, first_model, tmp_path)
    site = Site(kafka, registry, agents, policies(window_s), tmp_path / "journal")
    try:
        site.start_controller()
        yield site
    finally:
        site._running.close()
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


class ArtifactServer(MlflowServer):
    """``mlflow server --artifacts-only`` on another server's artifact folder: a site whose model files are
    served apart from its tracking server (the agents fetch them while the tracking server is down)."""

    label = "MLflow artifacts"

    def __init__(self, artifacts: Path, state_dir: Path, port: int) -> None:
        super().__init__(state_dir, port)
        self.artifacts = artifacts
        self.process.marker = str(artifacts)  # in its command line (its own pid file tells it from MLflow's)

    def command(self) -> list[str]:
        return [
            *mlflow_executable(),
            "server",
            "--artifacts-only",
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]


@pytest.fixture
def artifact_server(own_mlflow: MlflowServer, tmp_path: Path) -> Iterator[ArtifactServer]:
    server = ArtifactServer(own_mlflow.state_dir / "artifacts", tmp_path / "artifacts", free_ports(1)[0])
    try:
        server.start(timeout_s=120.0)
        yield server
    finally:
        server.stop()


def overrule(kafka: KafkaSettings, version: str, n: int) -> None:
    """Supervisors reject ``n`` of the canary's outcomes (the model saw defects that are not there)."""
    seen = read_topic(kafka, TopicRole.OUTCOMES, timeout_s=10, idle_s=1)  # the agents never go idle
    canary = [o for o in seen if isinstance(o, Outcome) and o.model.version == version and not o.shadow]
    assert len(canary) >= n, f"only {len(canary)} canary outcomes"
    with EventProducer(kafka) as producer:
        # the oldest: the controller has surely seen them (a review of an outcome it has not seen yet, its
        # topic read behind the labels' under load, is not counted)
        for o in canary[:n]:
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


def test_mlflow_down_as_the_window_ends_nothing_widened_until_recorded(
    kafka_settings: KafkaSettings,
    own_mlflow: MlflowServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="training.rollout")
    with site_on(kafka_settings, own_mlflow.uri, tmp_path) as site:
        asked = site.canary_of_v3()
        own_mlflow.stop()
        waiting: Callable[[], str] = lambda: site.controller.waiting.get(PRODUCT, "")  # noqa: E731
        wanted = "every agent"
        wait_until(
            lambda: wanted in waiting(), 60, f"the controller to wait for MLflow to take v3 to {wanted}"
        )
        assert "MLflow" in waiting() and own_mlflow.uri in waiting(), waiting()
        time.sleep(3.0)  # several judging ticks and MLflow probes more: still nothing deployed
        assert site.serving() == ["3", "local"]
        assert site.controller.error is None and site.controller.leader.is_set()
        assert any("MLflow" in r.getMessage() and wanted in r.getMessage() for r in caplog.records)

        own_mlflow.start(timeout_s=120.0)
        back = time.time()
        wait_until(lambda: not site.controller.mlflow.is_down, 60, "the controller to see MLflow back")
        seen_back = time.time() - back
        wait_until(lambda: site.serving() == ["3", "3"], 60, "v3 on both agents once MLflow is back")
        events = site.story(asked, RolloutState.FULL)
        assert site.controller.waiting == {}
        assert site.controller.error is None

    notes = [e for e in events if e.progress]
    assert notes and all("MLflow" in e.reason for e in notes), events
    assert [e.state for e in events if not e.progress] == [RolloutState.CANARY, RolloutState.FULL], events
    report("MLflow back -> seen by the controller", seen_back)
    report("MLflow back -> full published", events[-1].ts.timestamp() - back)
    assert site.registry.alias(PRODUCT, CANARY) is None
    assert site.registry.alias(PRODUCT, CHAMPION).version == "3"  # type: ignore[union-attr]
    assert site.registry.get(PRODUCT, "3").tags["rollout.decision"] == "full"


@pytest.mark.parametrize(
    ("apart", "restart", "engineer"),
    [(True, None, False), (False, "same", False), (True, "elsewhere", True)],
    ids=[
        "canary-fails-while-down",
        "canary-fails-while-down-files-in-mlflow-kept-by-the-agent-trainer-restarted",
        "rollback-asked-while-down-another-trainer-takes-over",
    ],
)
def test_mlflow_down_a_failing_canary_is_rolled_back_at_once_and_recorded_later(
    kafka_settings: KafkaSettings,
    own_mlflow: MlflowServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    apart: bool,
    restart: str | None,
    engineer: bool,
) -> None:
    """``apart``: the agents fetch model files from an artifact server that stays up (else from the MLflow
    that stops, and they served the champion before the canary); ``restart``: the controller restarted
    while MLflow is down, on the same journal or on another machine's (empty); ``engineer``: an engineer
    asks for the rollback (else the canary's reviews fail it)."""
    caplog.set_level(logging.WARNING, logger="training.rollout")
    files = request.getfixturevalue("artifact_server").uri if apart else None
    # the canary fails on its reviews at any time: a window far longer than the overrule takes under load,
    # so the reviews (not the window's end) decide it
    with site_on(kafka_settings, own_mlflow.uri, tmp_path, 300.0, artifacts_uri=files) as site:
        registry = site.registry
        asked = site.canary_of_v3(champion_first=not apart)
        own_mlflow.stop()
        if engineer:
            ask(site.kafka, action=RolloutAction.ROLLBACK, reason="line 2 sees false rejects")
        else:
            overrule(site.kafka, "3", 5)
        overruled = time.time()
        waiting: Callable[[], str] = lambda: site.controller.waiting.get(PRODUCT, "")  # noqa: E731
        wanted = "record the rollback"
        wait_until(lambda: wanted in waiting(), 60, "the rollback sent and waiting for MLflow to record it")
        assert "MLflow" in waiting() and own_mlflow.uri in waiting(), waiting()
        # apart: the canary agent fetches the champion from the artifact server; else (MLflow serves the
        # files) it loads the champion it served before the canary from its own disk: MLflow still down
        wait_until(lambda: site.serving() == ["1", "1"], 60, "both agents on v1 while MLflow is down")
        on_champion = time.time()
        assert site.controller.mlflow.is_down and site.controller.in_flight == {}
        assert site.controller.error is None and site.controller.leader.is_set()
        assert any("MLflow" in r.getMessage() and wanted in r.getMessage() for r in caplog.records)
        assert set(site.controller.journal.pending) == {PRODUCT}
        if restart == "same":  # the new controller reads the journal: it waits to record the rollback
            site.restart_controller()
            wait_until(lambda: wanted in waiting(), 60, "the restarted controller to wait to record it")
        elif restart == "elsewhere":  # no journal: MLflow's aliases still show the canary in flight
            site.restart_controller(tmp_path / "journal-elsewhere")
            wait_until(lambda: site.controller.mlflow.is_down, 60, "the new controller to find MLflow down")
        assert site.controller.in_flight == {}

        own_mlflow.start(timeout_s=120.0)
        back = time.time()
        wait_until(
            lambda: not site.controller.journal.pending and registry.alias(PRODUCT, CANARY) is None,
            60,
            "the rollback recorded once MLflow is back",
        )
        recorded = time.time() - back
        wait_until(lambda: site.controller.waiting == {}, 60, "the controller's round after the record")
        wait_until(lambda: site.serving() == ["1", "1"], 60, "both agents on v1 once MLflow is back")
        on_champion_after = time.time() - back
        events = site.story(asked, RolloutState.ROLLED_BACK)
        assert site.controller.in_flight == {}  # the canary is not resumed from MLflow
        assert site.controller.error is None

    assert [e.state for e in events if not e.progress] == [RolloutState.CANARY, RolloutState.ROLLED_BACK], (
        events
    )
    why = "rollback requested by engineer: line 2 sees false rejects" if engineer else "override rate"
    assert why in events[-1].reason and "recorded once it answers" in events[-1].reason
    cause = "rollback asked" if engineer else "overruled"
    files = "files apart" if apart else "files in MLflow, the agent's kept copy"
    report(f"{cause} -> both agents on the champion, MLflow down ({files})", on_champion - overruled)
    report(
        f"rolled_back decided -> both agents on the champion, MLflow down ({files})",
        on_champion - events[-1].ts.timestamp(),
    )
    report("MLflow back -> both agents on the champion", on_champion_after)
    report("MLflow back -> the rollback recorded", recorded)
    assert registry.alias(PRODUCT, CANARY) is None
    assert registry.alias(PRODUCT, CHAMPION).version == "1"  # type: ignore[union-attr]
    tags = registry.get(PRODUCT, "3").tags
    assert tags["rollout.decision"] == "rolled_back" and tags["rollout.back_to"] == "1"
    assert why in tags["rollout.reason"] and tags["rollout.recorded_late"]
    assert not list(site.journal.glob("*.json"))
    if restart == "elsewhere":  # recorded from the deployments topic; the first trainer's journal is its own
        assert "recorded by the next leader" in tags["rollout.reason"]


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
        ask(kafka, action=RolloutAction.ROLLBACK, reason="asked after the outage")
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
