"""Models from a real MLflow registry; promote publishes a Deployment to Kafka, rollback re-publishes the
previous
version."""

from __future__ import annotations

import uuid

import pytest
from mlflow.tracking import MlflowClient
from pydantic import SecretStr

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Deployment, ModelRef, Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.signing import SignatureError, verify
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_topic, wait_for
from tests.support.events import heartbeat

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow]
FLEET_KEY = "fleet-key-for-tests"


def register(uri: str, name: str) -> None:
    client = MlflowClient(tracking_uri=uri)
    client.create_registered_model(name)
    for v in ("1", "2"):
        client.create_model_version(
            name,
            source=f"s3://models/{name}/{v}/model.onnx",
            tags={
                "sha256": v * 64 if v != "1" else "1" * 64,
                "class_names": '["scratch", "dent"]',
                "imgsz": "320",
            },
        )
    client.set_model_version_tag(name, "2", "gate.decision", "promoted")
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "challenger", "1")


def test_models_promote_and_rollback(api_factory, kafka_settings: KafkaSettings, mlflow_server: str) -> None:
    name = f"widget-{uuid.uuid4().hex[:6]}"
    register(mlflow_server, name)
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server, signing_key=SecretStr(FLEET_KEY))
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
    assert (
        api.post("/api/v1/deployments", role=Role.SUPERVISOR, json={**body, "model_version": "1"}).status_code
        == 403
    )
    first = api.post("/api/v1/deployments", role=Role.ENGINEER, json={**body, "model_version": "1"})
    assert first.status_code == 201, first.text
    second = api.post("/api/v1/deployments", role=Role.ENGINEER, json={**body, "model_version": "2"})
    assert second.json()["previous_version"] == "1"
    missing = api.post("/api/v1/deployments", role=Role.ENGINEER, json={**body, "model_version": "9"})
    assert missing.status_code == 404

    back = api.post(
        "/api/v1/deployments/rollback", role=Role.ENGINEER, json={"target": "line-1", "reason": "canary"}
    )
    assert back.status_code == 201, back.text
    assert back.json()["model_version"] == "1" and back.json()["strategy"] == "rollback"

    published = read_topic(kafka_settings, TopicRole.DEPLOYMENTS, 3)
    assert [d.model_version for d in published] == ["1", "2", "1"]
    assert all(isinstance(d, Deployment) and d.target == "line-1" for d in published)
    assert published[2].strategy is Strategy.ROLLBACK and published[2].sha256 == "1" * 64
    assert published[2].created_by == "engineer-1" and published[2].previous_version == "2"
    assert published[0].artifact_uri == f"s3://models/{name}/1/model.onnx"
    for dep in published:  # every deployment the API publishes is signed with the fleet key, rollback too
        verify(dep, FLEET_KEY, required=True)
        with pytest.raises(SignatureError):
            verify(dep, "another key", required=True)
    assert published[2].signature != published[0].signature  # re-signed (strategy differs), not copied
    history = api.get("/api/v1/deployments", params={"target": "line-1"}).json()
    assert [h["model_version"] for h in history] == ["1", "2", "1"]

    nothing = api.post("/api/v1/deployments/rollback", role=Role.ENGINEER, json={"target": "line-9"})
    assert nothing.status_code == 409


def test_models_unreachable_is_503(api_factory) -> None:
    api = api_factory(None)
    resp = api.get("/api/v1/models")
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "upstream_unavailable"


@pytest.mark.parametrize(
    ("tags", "file", "sha", "precision"),
    [
        (
            {"edge_file": "model.int8.onnx", "edge_sha256": "b" * 64, "edge_precision": "int8"},
            "model.int8.onnx",
            "b" * 64,
            "int8",
        ),
        ({}, "model.onnx", "a" * 64, "fp32"),  # registered by training before the edge_* tags
    ],
)
def test_promote_a_training_version_ships_its_edge_file(
    api_factory,
    kafka_settings: KafkaSettings,
    mlflow_server: str,
    tags: dict[str, str],
    file: str,
    sha: str,
    precision: str,
) -> None:
    """Training registers the artifact folder as the source; the deployment names the file in it."""
    name = f"trained-{uuid.uuid4().hex[:6]}"
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_registered_model(name)
    folder = f"s3://models/{name}/1/model"  # the artifact folder, as training registers it
    client.create_model_version(
        name,
        source=folder,
        tags={"onnx_sha256": "a" * 64, "class_names": '["scratch", "dent"]', "imgsz": "320", **tags},
    )
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    body = {"model_name": name, "model_version": "1", "target": "line-2"}
    assert api.post("/api/v1/deployments", role=Role.ENGINEER, json=body).status_code == 201
    (dep,) = read_topic(kafka_settings, TopicRole.DEPLOYMENTS, 1)
    assert isinstance(dep, Deployment)
    assert (dep.artifact_uri, dep.sha256, dep.precision) == (f"{folder}/{file}", sha, precision)


@pytest.mark.parametrize(
    ("tags", "body", "product"),
    [
        ({"product": "pcb"}, {}, "pcb"),  # training tags every version with its product
        ({}, {}, None),  # registered before products: any agent may serve it
        ({"product": "pcb"}, {"product": "pcb_v2"}, "pcb_v2"),  # the body overrides, as for class_names
    ],
)
def test_promote_carries_the_versions_product_signed(
    api_factory,
    kafka_settings: KafkaSettings,
    mlflow_server: str,
    tags: dict[str, str],
    body: dict[str, str],
    product: str | None,
) -> None:
    name = f"product-{uuid.uuid4().hex[:6]}"
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_registered_model(name)
    client.create_model_version(
        name,
        source=f"s3://models/{name}/1/model",
        tags={"onnx_sha256": "a" * 64, "class_names": '["scratch", "dent"]', "imgsz": "320", **tags},
    )
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server, signing_key=SecretStr(FLEET_KEY))
    request = {"model_name": name, "model_version": "1", **body}
    resp = api.post("/api/v1/deployments", role=Role.ENGINEER, json=request)
    assert resp.status_code == 201, resp.text
    assert resp.json()["product"] == product
    (dep,) = read_topic(kafka_settings, TopicRole.DEPLOYMENTS, 1)
    assert isinstance(dep, Deployment) and dep.product == product
    verify(dep, FLEET_KEY, required=True)
    with pytest.raises(SignatureError):  # the product is signed: another product is another signature
        verify(dep.model_copy(update={"product": "other"}), FLEET_KEY, required=True)
    bad = api.post("/api/v1/deployments", role=Role.ENGINEER, json={**request, "product": "has space"})
    assert bad.status_code == 422
