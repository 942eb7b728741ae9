"""The rollout controller on the real broker, MLflow and two real agents (in-process, real ONNX models served
over HTTP): a model that flags every frame is rolled back from its canary within the window, with the champion
unchanged and the reason in MLflow and on the rollouts topic; a healthy one promoted by the gate widens from
one agent to both and becomes the champion; two controllers of one installation: one acts, the other waits."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings
from factoryloop.kafka import EventProducer
from factoryloop.schemas import RolloutAction, RolloutEvent, RolloutRequest, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, read_topic, wait_until, with_product
from tests.support.edge_onnx import fail_model, pass_model
from training.registry.models import CANARY, CHAMPION, ModelRegistry
from training.rollout.controller import RolloutController
from training.rollout.policy import AgentsStage, AllStage, Judge, RolloutPolicies, RolloutPolicy

pytest.importorskip("onnx")
PRODUCT = "steel_plate"
CLASSES = ["scratch", "dent", "stain", "crack", "missing_hole"]
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
        return [a.models.current.ref.version for a in self.agents]

    def events(self) -> list[RolloutEvent]:
        got = read_topic(self.kafka, TopicRole.ROLLOUTS, timeout_s=20, idle_s=2)
        return [e for e in got if isinstance(e, RolloutEvent)]


def _register(registry: ModelRegistry, version: str, onnx: Path) -> None:
    """``onnx`` logged to a run of its own (the agents fetch it through MLflow's artifact proxy) and
    registered as ``version`` with the tags training writes."""
    client = MlflowClient(tracking_uri=registry.tracking_uri)
    exp = client.get_experiment_by_name("test-rollouts") or client.create_experiment("test-rollouts")
    run = client.create_run(exp if isinstance(exp, str) else exp.experiment_id)
    client.log_artifacts(run.info.run_id, str(onnx.parent), "model")
    client.set_terminated(run.info.run_id)
    sha = hashlib.sha256(onnx.read_bytes()).hexdigest()
    mv = client.create_model_version(
        registry.name(PRODUCT),
        source=f"{run.info.artifact_uri}/model",
        run_id=run.info.run_id,
        tags={"onnx_sha256": sha, "class_names": json.dumps(CLASSES), "imgsz": "160", "product": PRODUCT},
    )
    assert str(mv.version) == version


def _stamped(path: Path, version: str) -> Path:
    import onnx

    model = onnx.load(str(with_product(path, PRODUCT)))
    entry = model.metadata_props.add()
    entry.key, entry.value = "test_version", version
    onnx.save(model, str(path))
    return path


@pytest.fixture
def site(kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path) -> Iterator[Site]:
    models = tmp_path / "models"
    files = {  # distinct bytes per version (agents know a model by its sha256)
        "0": _stamped(pass_model(models / "0" / "model.onnx"), "0"),  # what the agents start with
        "1": _stamped(pass_model(models / "1" / "model.onnx"), "1"),
        "2": _stamped(fail_model(models / "2" / "model.onnx"), "2"),  # flags every frame
        "3": _stamped(pass_model(models / "3" / "model.onnx"), "3"),
    }
    registry = ModelRegistry(mlflow_server, f"t{uuid.uuid4().hex[:8]}-")
    MlflowClient(tracking_uri=mlflow_server).create_registered_model(registry.name(PRODUCT))
    stop = threading.Event()
    for v in ("1", "2", "3"):
        _register(registry, v, files[v])
    registry.set_alias(PRODUCT, CHAMPION, "1")
    agents = [
        Agent(
            agent_config(
                kafka_settings,
                files["0"],
                tmp_path / name,
                agent_id=name,
                line_id=line,
                source={"fps": 8, "max_frames": 100_000},
            ),
            AgentSettings(state_dir=tmp_path / name / "state", mlflow_tracking_uri=mlflow_server),
        )
        for name, line in (("agent-a", "line-1"), ("agent-b", "line-2"))
    ]
    for agent in agents:
        agent.start()
    controller = RolloutController(
        kafka_settings, registry, RolloutPolicies(default=POLICY), session_timeout_ms=6000
    )
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
    req = RolloutRequest(request_id=uuid.uuid4().hex, product=PRODUCT, requested_by="engineer", **fields)
    with EventProducer(kafka) as producer:
        producer.send_sync(TopicRole.ROLLOUTS, req, key=PRODUCT)
    return req


def test_bad_canary_rolled_back_then_a_good_one_widens_to_full(site: Site) -> None:
    # The fleet on v1 first: a straight (unstaged) deployment requested on the topic, as the API does.
    _request(site.kafka, action=RolloutAction.DEPLOY, model_version="1", staged=False)
    wait_until(lambda: site.serving() == ["1", "1"], 60, "both agents on v1")

    # A model that flags every frame: canary on one agent, caught by its defect rate, rolled back.
    bad = _request(site.kafka, action=RolloutAction.DEPLOY, model_version="2", reason="try v2")
    wait_until(lambda: site.serving()[0] == "2", 60, "the canary agent on v2")
    served_at = time.monotonic()
    wait_until(lambda: site.serving() == ["1", "1"], 60, "the rollback to v1")
    rollback_s = time.monotonic() - served_at
    assert rollback_s < POLICY.window_s + 20  # decided on evidence, not at the end of a long window
    v2 = site.registry.get(PRODUCT, "2")
    assert v2.tags["rollout.decision"] == "rolled_back" and "defect rate" in v2.tags["rollout.reason"]
    assert site.registry.alias(PRODUCT, CHAMPION).version == "1"  # type: ignore[union-attr]
    assert site.registry.alias(PRODUCT, CANARY) is None
    story = [(e.model_version, e.state) for e in site.events() if e.request_id == bad.request_id]
    assert story == [("2", RolloutState.CANARY), ("2", RolloutState.ROLLED_BACK)]
    assert site.agents[1].models.swaps == 1  # agent-b went to v1 once and never served v2

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


def test_requests_that_cannot_be_carried_out_are_refused_with_the_reason(site: Site) -> None:
    unknown = _request(site.kafka, action=RolloutAction.DEPLOY, model_version="99")
    stale = RolloutRequest(
        request_id=uuid.uuid4().hex,
        product=PRODUCT,
        action=RolloutAction.DEPLOY,
        model_version="3",
        requested_by="engineer",
        ts=RolloutRequest.model_fields["ts"].default_factory().replace(year=2020),  # type: ignore[misc]
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
