"""kill -9 of the trainer (``factoryloop train watch``, a real process) in the middle of a canary: the agents
are left split (the canary agent on the new version, the other on the old); a new trainer takes over once
Kafka's group coordinator gives up on the dead one, resumes the stage's window from what MLflow recorded and
finishes the rollout. Real Kafka, MLflow and two agents."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from factoryloop.schemas import RolloutAction, RolloutState
from factoryloop.settings import KafkaSettings
from tests.integration.edge_agent.support import wait_until
from tests.support.rollout_site import (
    PRODUCT,
    register_models,
    request,
    serving,
    start_agents,
    wait_for_events,
)
from training.registry.models import CANARY, CHAMPION, ModelRegistry

pytest.importorskip("onnx")
WINDOW_S = 15
POLICY = f"""
default:
  window_s: {WINDOW_S}
  stages: [{{type: agents, count: 1}}, {{type: all}}]
  judge: {{min_outcomes: 10, max_latency_p99_ms: 5000, max_latency_p99_ratio: 50}}
"""


@pytest.fixture
def agents(kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path) -> Iterator[list[Agent]]:
    registry, first = register_models(mlflow_server, tmp_path / "models")
    (tmp_path / "prefix").write_text(registry.prefix)
    started = start_agents(kafka_settings, mlflow_server, first, tmp_path)
    try:
        yield started
    finally:
        for agent in started:
            agent.close()


def _trainer(kafka: KafkaSettings, mlflow: str, prefix: str, tmp: Path) -> subprocess.Popen[bytes]:
    (tmp / "policy.yaml").write_text(POLICY)
    env = {
        **os.environ,
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "FACTORYLOOP_TRAIN_MLFLOW_TRACKING_URI": mlflow,
        "FACTORYLOOP_TRAIN_REGISTERED_MODEL_PREFIX": prefix,
        "FACTORYLOOP_TRAIN_STATE_DIR": str(tmp / "trainer-state"),
        "FACTORYLOOP_DATASETS": str(tmp / "datasets"),
    }
    exe = shutil.which("factoryloop")
    assert exe, "the factoryloop command is not installed"
    cmd = [exe, "train", "watch", "--rollout-policy", str(tmp / "policy.yaml")]
    log = (tmp / "trainer.log").open("ab")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)


def test_trainer_killed_mid_canary_resumes_and_finishes(
    agents: list[Agent], kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path
) -> None:
    prefix = (tmp_path / "prefix").read_text()
    registry = ModelRegistry(mlflow_server, prefix)
    first = _trainer(kafka_settings, mlflow_server, prefix, tmp_path)

    def log() -> str:
        return (tmp_path / "trainer.log").read_text()[-4000:]

    try:
        request(kafka_settings, action=RolloutAction.DEPLOY, model_version="1", staged=False)
        wait_until(lambda: serving(agents) == ["1", "1"], 120, "both agents on v1 (the first trainer leads)")
        asked = request(kafka_settings, action=RolloutAction.DEPLOY, model_version="3", reason="ship v3")
        wait_until(lambda: serving(agents)[0] == "3", 60, "the canary agent on v3")
    finally:
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    assert serving(agents) == ["3", "1"]  # split, with no owner for now
    assert registry.alias(PRODUCT, CANARY).version == "3"  # type: ignore[union-attr]

    second = _trainer(kafka_settings, mlflow_server, prefix, tmp_path)
    try:
        wait_until(lambda: serving(agents) == ["3", "3"], 120, f"v3 on both agents; trainer log:\n{log()}")
        assert second.poll() is None, log()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    events = wait_for_events(kafka_settings, asked.request_id, 3)
    states = [(e.state, "resumed" in e.reason) for e in events]
    assert states == [
        (RolloutState.CANARY, False),
        (RolloutState.CANARY, True),
        (RolloutState.FULL, False),
    ], events
    assert registry.alias(PRODUCT, CHAMPION).version == "3"  # type: ignore[union-attr]
    assert registry.alias(PRODUCT, CANARY) is None
    assert registry.get(PRODUCT, "3").tags["rollout.decision"] == "full"
