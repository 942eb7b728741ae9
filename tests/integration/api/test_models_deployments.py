"""Models from a real MLflow registry; ``POST /deployments`` and ``/deployments/rollback`` ask the rollout
controller (a RolloutRequest on the rollouts topic, 202) instead of publishing Deployments; the deployment
history is what the controller published, as the sink stored it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import ModelRef, RolloutAction, RolloutRequest
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_records, read_topic, wait_for
from tests.support.events import deployment, heartbeat

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow]


def register(uri: str, name: str, product: str | None = "pcb") -> None:
    client = MlflowClient(tracking_uri=uri)
    client.create_registered_model(name, tags={"product": product} if product else None)
    for v in ("1", "2"):
        client.create_model_version(
            name,
            source=f"s3://models/{name}/{v}/model",
            tags={"onnx_sha256": v * 64, "class_names": '["scratch", "dent"]', "imgsz": "320"}
            | ({"product": product} if product else {}),
        )
    client.set_model_version_tag(name, "2", "gate.decision", "promoted")
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "challenger", "1")


def test_models_and_deployment_requests(
    api_factory, kafka_settings: KafkaSettings, mlflow_server: str
) -> None:
    name = f"widget-{uuid.uuid4().hex[:6]}"
    register(mlflow_server, name)
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.HEARTBEATS, heartbeat(model=ModelRef(name=name, version="2")))
    wait_for(lambda: api.get("/api/v1/fleet/agents").json() or None, what="heartbeat")

    models = api.get("/api/v1/models").json()
    assert any(m["name"] == name and m["aliases"] == {"champion": "2", "challenger": "1"} for m in models)
    detail = api.get(f"/api/v1/models/{name}").json()
    v2 = detail["versions"][0]
    assert (
        v2["version"] == "2" and v2["gate"] == {"gate.decision": "promoted"} and v2["agents"] == ["agent-1"]
    )
    assert api.get("/api/v1/models/no-such-model").status_code == 404

    body = {"model_name": name, "target": "line-1"}
    denied = api.post("/api/v1/deployments", role=Role.SUPERVISOR, json={**body, "model_version": "1"})
    assert denied.status_code == 403
    first = api.post("/api/v1/deployments", role=Role.ENGINEER, json={**body, "model_version": "1"})
    assert first.status_code == 202, first.text
    got = first.json()
    assert (got["product"], got["action"], got["model_version"], got["staged"]) == (
        "pcb",
        "deploy",
        "1",
        False,
    )
    assert (got["target"], got["requested_by"], got["status"]) == ("line-1", "engineer-1", "requested")
    canary = api.post(
        "/api/v1/deployments",
        role=Role.ENGINEER,
        json={**body, "model_version": "2", "strategy": "canary", "reason": "better recall"},
    )
    assert canary.status_code == 202 and canary.json()["staged"] is True
    missing = api.post("/api/v1/deployments", role=Role.ENGINEER, json={**body, "model_version": "9"})
    assert missing.status_code == 404

    back = api.post(
        "/api/v1/deployments/rollback", role=Role.ENGINEER, json={"product": "pcb", "reason": "canary"}
    )
    assert back.status_code == 202, back.text
    assert back.json()["action"] == "rollback" and back.json()["to_version"] is None
    no_product = api.post("/api/v1/deployments/rollback", role=Role.ENGINEER, json={"target": "line-1"})
    assert no_product.status_code == 422

    records = read_records(kafka_settings, TopicRole.ROLLOUTS, 3)
    requests = [r.event for r in records]
    assert all(isinstance(r, RolloutRequest) for r in requests) and {r.key for r in records} == {b"pcb"}
    assert [(r.action, r.model_version, r.staged) for r in requests] == [
        (RolloutAction.DEPLOY, "1", False),
        (RolloutAction.DEPLOY, "2", True),
        (RolloutAction.ROLLBACK, None, True),
    ]
    assert [r.request_id for r in requests] == [first.json()["request_id"], canary.json()["request_id"],
                                                back.json()["request_id"]]  # fmt: skip
    assert requests[1].reason == "better recall" and requests[2].requested_by == "engineer-1"
    status = api.get(f"/api/v1/rollouts/requests/{got['request_id']}").json()
    assert status["status"] == "requested" and status["events"] == []  # no trainer: it stays requested

    # The API published no Deployment; the history shows what the controller publishes.
    dep = deployment(model_name=name, model_version="2", target="line-1", product="pcb")
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.DEPLOYMENTS, dep, key=dep.compaction_key)
    history = wait_for(lambda: api.get("/api/v1/deployments", params={"target": "line-1"}).json() or None)
    assert [(h["deployment_id"], h["model_version"], h["product"]) for h in history] == [
        (dep.deployment_id, "2", "pcb")
    ]
    assert [d.deployment_id for d in read_topic(kafka_settings, TopicRole.DEPLOYMENTS, 1)] == [
        dep.deployment_id
    ]


def test_models_unreachable_is_503(api_factory) -> None:
    api = api_factory(None)
    resp = api.get("/api/v1/models")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "upstream_unavailable"
    body = {"model_name": "factoryloop-pcb", "model_version": "1"}
    promote = api.post("/api/v1/deployments", role=Role.ENGINEER, json=body)
    assert promote.status_code == 503 and "MLflow" in promote.json()["error"]["message"]


@pytest.mark.parametrize(
    ("product", "body", "status", "needle"),
    [
        ("tiles", {"strategy": "canary"}, 202, None),
        (None, {}, 400, "has no 'product' tag"),  # registered by hand, without a product
        ("tiles", {"canary_agents": ["agent-1"]}, 400, "rollout policy chooses the canary agents"),
        ("tiles", {"sha256": "a" * 64}, 400, "chooses sha256"),
        ("tiles", {"strategy": "shadow", "canary_agents": ["agent-1"], "shadow_sample_rate": 0.5}, 202, None),
        ("tiles", {"strategy": "canary", "shadow_sample_rate": 0.5}, 400, "chooses shadow_sample_rate"),
        ("tiles", {"strategy": "rollback"}, 400, "POST /deployments/rollback"),
        ("tiles", {"strateggy": "full"}, 422, "request validation failed"),
        ("tiles", {"target": "two words"}, 422, "request validation failed"),
    ],
)
def test_promote_takes_the_product_from_the_version(
    api_factory,
    kafka_settings: KafkaSettings,
    mlflow_server: str,
    product: str | None,
    body: dict[str, Any],
    status: int,
    needle: str | None,
) -> None:
    name = f"product-{uuid.uuid4().hex[:6]}"
    register(mlflow_server, name, product)
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    resp = api.post(
        "/api/v1/deployments", role=Role.ENGINEER, json={"model_name": name, "model_version": "1", **body}
    )
    assert resp.status_code == status, resp.text
    if needle is not None:
        assert needle in resp.json()["error"]["message"]
        return
    (req,) = read_topic(kafka_settings, TopicRole.ROLLOUTS, 1)
    assert isinstance(req, RolloutRequest) and (req.product, req.model_version, req.staged) == (
        "tiles",
        "1",
        True,
    )
    shadow = None if body.get("strategy") != "shadow" else (("agent-1",), 0.5)
    assert (req.shadow and (req.shadow.agents, req.shadow.sample_rate)) == shadow
