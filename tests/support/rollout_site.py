"""A small site for rollout tests: a product's model versions in MLflow (real ONNX files logged to runs,
fetched by the agents through MLflow's artifact proxy) and real edge agents (in-process) on two lines.

Versions: 1 and 3 detect nothing, 2 flags every frame (the "bad model"); the agents start on a 0th model that
the registry does not know. Every file has distinct bytes (agents know a model by its sha256).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings
from factoryloop.kafka import EventProducer
from factoryloop.schemas import RolloutEvent, RolloutRequest
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, read_topic, wait_until, with_product
from tests.support.edge_onnx import fail_model, pass_model
from training.registry.models import CHAMPION, ModelRegistry
from training.rollout.controller import RolloutController
from training.rollout.policy import RolloutPolicies

PRODUCT = "steel_plate"
CLASSES = ["scratch", "dent", "stain", "crack", "missing_hole"]
AGENTS = (("agent-a", "line-1"), ("agent-b", "line-2"))


def _stamped(path: Path, version: str) -> Path:
    import onnx

    model = onnx.load(str(with_product(path, PRODUCT)))
    entry = model.metadata_props.add()
    entry.key, entry.value = "test_version", version
    onnx.save(model, str(path))
    return path


def _register(registry: ModelRegistry, version: str, onnx: Path) -> None:
    client = MlflowClient(tracking_uri=registry.tracking_uri)
    exp = client.get_experiment_by_name("test-rollouts")
    exp_id = exp.experiment_id if exp is not None else client.create_experiment("test-rollouts")
    run = client.create_run(exp_id)
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


def register_models(mlflow_uri: str, folder: Path, prefix: str | None = None) -> tuple[ModelRegistry, Path]:
    """Versions 1-3 registered (champion 1) under a fresh prefix; the registry and the agents' model."""
    registry = ModelRegistry(mlflow_uri, prefix or f"t{uuid.uuid4().hex[:8]}-")
    MlflowClient(tracking_uri=mlflow_uri).create_registered_model(registry.name(PRODUCT))
    files = {
        "0": _stamped(pass_model(folder / "0" / "model.onnx"), "0"),
        "1": _stamped(pass_model(folder / "1" / "model.onnx"), "1"),
        "2": _stamped(fail_model(folder / "2" / "model.onnx"), "2"),
        "3": _stamped(pass_model(folder / "3" / "model.onnx"), "3"),
    }
    for v in ("1", "2", "3"):
        _register(registry, v, files[v])
    registry.set_alias(PRODUCT, CHAMPION, "1")
    return registry, files["0"]


def start_agents(kafka: KafkaSettings, mlflow_uri: str, model: Path, folder: Path) -> list[Agent]:
    agents = [
        Agent(
            agent_config(
                kafka,
                model,
                folder / name,
                agent_id=name,
                line_id=line,
                source={"fps": 8, "max_frames": 100_000},
            ),
            AgentSettings(state_dir=folder / name / "state", mlflow_tracking_uri=mlflow_uri),
        )
        for name, line in AGENTS
    ]
    for agent in agents:
        agent.start()
    return agents


def serving(agents: list[Agent]) -> list[str]:
    return [a.models.current.ref.version for a in agents]


def request(kafka: KafkaSettings, **fields: object) -> RolloutRequest:
    req = RolloutRequest(request_id=uuid.uuid4().hex, product=PRODUCT, requested_by="engineer", **fields)
    with EventProducer(kafka) as producer:
        producer.send_sync(TopicRole.ROLLOUTS, req, key=PRODUCT)
    return req


def rollout_events(kafka: KafkaSettings, request_id: str | None = None) -> list[RolloutEvent]:
    got = read_topic(kafka, TopicRole.ROLLOUTS, timeout_s=20, idle_s=2)
    return [e for e in got if isinstance(e, RolloutEvent) and request_id in (None, e.request_id)]


def wait_for_events(
    kafka: KafkaSettings, request_id: str, n: int, timeout_s: float = 60
) -> list[RolloutEvent]:
    deadline = time.monotonic() + timeout_s
    while True:
        events = rollout_events(kafka, request_id)
        if len(events) >= n or time.monotonic() > deadline:
            return events
        time.sleep(1.0)


@contextmanager
def running_controller(
    kafka: KafkaSettings,
    registry: ModelRegistry,
    policies: RolloutPolicies,
    agents: int = len(AGENTS),
    **options: Any,
) -> Iterator[RolloutController]:
    """A rollout controller in a thread, leading and knowing ``agents`` live agents; stopped after, its error
    (if any) raised. ``options``: more of the controller's keyword arguments."""
    controller = RolloutController(kafka, registry, policies, session_timeout_ms=6000, **options)
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(controller.leader.is_set, 60, "the controller to lead")
        wait_until(lambda: len(controller.fleet.agents(PRODUCT)) == agents, 60, "the agents' heartbeats")
        yield controller
    finally:
        stop.set()
        thread.join(30)
    assert controller.error is None, controller.error
