"""A deployment asked through the API is carried out, watched and rolled back by the trainer's rollout
controller like its own: real API (its sink included), Kafka, MLflow, the controller and two agents. The
reason of the rollback is what the API and the dashboard's rollout view then show."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from api.security import Role
from factoryloop.settings import KafkaSettings
from tests.integration.edge_agent.support import wait_until
from tests.support.rollout_site import PRODUCT, register_models, serving, start_agents
from training.registry.models import CHAMPION
from training.rollout.controller import RolloutController
from training.rollout.policy import AgentsStage, AllStage, Judge, RolloutPolicies, RolloutPolicy

pytest.importorskip("onnx")
POLICY = RolloutPolicy(
    window_s=30.0,
    stages=(AgentsStage(count=1), AllStage()),
    judge=Judge(min_outcomes=10, max_latency_p99_ms=5000, max_latency_p99_ratio=50),
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the controller is the point, not the DB
def test_a_deployment_asked_through_the_api_is_watched_and_rolled_back(
    api_factory: Any, kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path
) -> None:
    registry, first = register_models(mlflow_server, tmp_path / "models")
    agents = start_agents(kafka_settings, mlflow_server, first, tmp_path)
    controller = RolloutController(kafka_settings, registry, RolloutPolicies(default=POLICY))
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    try:
        wait_until(lambda: len(controller.fleet.agents(PRODUCT)) == 2, 60, "both agents' heartbeats")
        straight = {"product": PRODUCT, "action": "deploy", "model_version": "1", "staged": False}
        assert api.post("/api/v1/rollouts", role=Role.ENGINEER, json=straight).status_code == 202
        wait_until(lambda: serving(agents) == ["1", "1"], 90, "both agents on v1")

        bad = {"product": PRODUCT, "action": "deploy", "model_version": "2", "reason": "looked fine offline"}
        asked = api.post("/api/v1/rollouts", role=Role.ENGINEER, json=bad)
        assert asked.status_code == 202, asked.text
        rid = asked.json()["request_id"]
        wait_until(lambda: serving(agents)[0] == "2", 60, "the canary agent on v2")
        wait_until(lambda: serving(agents) == ["1", "1"], 60, "the rollback (well within the 30 s window)")

        def status() -> dict[str, Any]:
            return dict(api.get(f"/api/v1/rollouts/requests/{rid}").json())

        wait_until(lambda: status()["status"] == "rolled_back", 30, "the API to see the rollback")
        events = status()["events"]
        assert [e["state"] for e in events] == ["canary", "rolled_back"]
        assert "defect rate" in events[-1]["reason"] and events[-1]["evidence"]["canary_fail_rate"] == 1.0
        view = api.get(f"/api/v1/products/{PRODUCT}/rollout").json()
        assert view["champion"] == "1" and view["canary"] is None and view["in_flight"] is None
        assert "defect rate" in view["history"][0]["reason"]
        assert registry.alias(PRODUCT, CHAMPION).version == "1"  # type: ignore[union-attr]
        assert agents[1].models.swaps == 1  # agent-b never served v2
    finally:
        stop.set()
        thread.join(30)
        for agent in agents:
            agent.close()
    assert controller.error is None, controller.error
