"""The API asks, the controller acts: ``POST /rollouts`` publishes a RolloutRequest on the real broker (202);
RolloutEvents the controller publishes are stored by the sink and shown by ``GET /rollouts``,
``/rollouts/requests/{id}`` and ``/products/{name}/rollout`` (state, evidence, the rollout in flight), on
SQLite and PostgreSQL. No trainer runs here: the events are published as the controller would."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import RolloutEvent, RolloutRequest, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_records, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow]


def event(product: str, state: RolloutState, **kw: Any) -> RolloutEvent:
    base: dict[str, Any] = {
        "rollout_id": "r" * 16,
        "product": product,
        "model_name": f"factoryloop-{product}",
        "model_version": "2",
        "previous_version": "1",
        "state": state,
        "stages": 2,
    }
    return RolloutEvent(**(base | kw))


def publish(kafka: KafkaSettings, *events: RolloutEvent) -> None:
    with EventProducer(kafka) as producer:
        for e in events:
            producer.send_sync(TopicRole.ROLLOUTS, e, key=e.product)


def test_request_events_and_the_products_rollout(
    api_factory, kafka_settings: KafkaSettings, mlflow_server: str
) -> None:
    product = f"pcb{uuid.uuid4().hex[:6]}"
    client = MlflowClient(tracking_uri=mlflow_server)
    name = f"factoryloop-{product}"
    client.create_registered_model(name, tags={"product": product})
    for _ in range(2):
        client.create_model_version(name, source=f"s3://models/{name}/model", tags={"product": product})
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)

    body = {"product": product, "action": "deploy", "model_version": "2", "reason": "gate passed"}
    assert api.post("/api/v1/rollouts", role=Role.SUPERVISOR, json=body).status_code == 403
    resp = api.post("/api/v1/rollouts", role=Role.ENGINEER, json=body)
    assert resp.status_code == 202, resp.text
    asked = resp.json()
    assert (asked["status"], asked["staged"], asked["target"], asked["requested_by"]) == (
        "requested",
        True,
        "fleet",
        "engineer-1",
    )
    (record,) = read_records(kafka_settings, TopicRole.ROLLOUTS, 1)
    req = record.event
    assert isinstance(req, RolloutRequest) and record.key == product.encode()
    assert (req.request_id, req.model_version, req.reason) == (asked["request_id"], "2", "gate passed")
    rid = asked["request_id"]
    waiting = api.get(f"/api/v1/rollouts/requests/{rid}").json()
    assert waiting["status"] == "requested" and waiting["request"]["actor"] == "engineer-1"
    view = api.get(f"/api/v1/products/{product}/rollout").json()
    assert (view["champion"], view["challenger"], view["in_flight"]) == ("1", "2", None)
    assert [p["request_id"] for p in view["pending"]] == [rid]

    # What the controller reports, as it would: taken, a canary with evidence, then widened.
    evidence = {"outcomes": 120.0, "fail_rate": 0.04, "p99_ms": 18.5}
    publish(
        kafka_settings,
        event(product, RolloutState.REQUESTED, request_id=rid, actor="engineer-1"),
        event(product, RolloutState.CANARY, request_id=rid, agents=("agent-1",), reason="stage 1 of 2"),
        event(product, RolloutState.CANARY, request_id=rid, agents=("agent-1",), evidence=evidence),
        event(product, RolloutState.WIDENED, stage=1, agents=("agent-1", "agent-2"), reason="window passed"),
    )
    detail = wait_for(
        lambda: len((d := api.get(f"/api/v1/rollouts/requests/{rid}").json())["events"]) == 3 and d,
        what="the sink to store the controller's events",
    )
    assert detail["status"] == "canary"
    assert [e["state"] for e in detail["events"]] == ["requested", "canary", "canary"]
    assert detail["events"][-1]["evidence"] == evidence and detail["request"]["reason"] == "gate passed"
    listed = wait_for(
        lambda: len(rows := api.get("/api/v1/rollouts", params={"product": product}).json()) == 5 and rows
    )
    assert [r["state"] for r in listed] == ["widened", "canary", "canary", "requested", "requested"]
    assert [r["kind"] for r in listed][-1] == "rollout_request"

    view = api.get(f"/api/v1/products/{product}/rollout").json()
    flight = view["in_flight"]
    assert flight["state"] == "widened" and flight["stage"] == 1 and flight["stages"] == 2
    assert flight["agents"] == ["agent-1", "agent-2"] and flight["evidence"] == evidence
    assert (
        flight["request_id"] == rid and flight["model_version"] == "2" and flight["previous_version"] == "1"
    )
    assert view["pending"] == [] and len(view["history"]) == 5 and view["model_name"] == name

    publish(kafka_settings, event(product, RolloutState.FULL, stage=1, agents=("agent-1", "agent-2")))
    done = wait_for(
        lambda: (
            (v := api.get(f"/api/v1/products/{product}/rollout").json())["history"][0]["state"] == "full"
            and v
        )
    )
    assert done["in_flight"] is None
    limited = api.get("/api/v1/rollouts", params={"limit": 2}).json()
    assert [r["state"] for r in limited] == ["full", "widened"]


def test_rollback_request_and_bad_input(api_factory, kafka_settings: KafkaSettings) -> None:
    api = api_factory(kafka_settings)
    rollback = {"product": "tiles", "action": "rollback", "to_version": "3", "target": "line-2"}
    resp = api.post("/api/v1/rollouts", role=Role.ENGINEER, json=rollback)
    assert resp.status_code == 202, resp.text
    (record,) = read_records(kafka_settings, TopicRole.ROLLOUTS, 1)
    assert record.key == b"tiles" and record.event.to_version == "3" and record.event.target == "line-2"

    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"product": "tiles", "action": "deploy", "to_version": "3"},
            400,
            "to_version is for action 'rollback'",
        ),
        (
            {"product": "tiles", "action": "rollback", "model_version": "3"},
            400,
            "a rollback takes to_version",
        ),
        ({"product": "has space", "action": "deploy"}, 422, "request validation failed"),
        ({"product": "tiles", "action": "promote"}, 422, "request validation failed"),
        ({"product": "tiles", "action": "deploy", "canary_agents": ["a"]}, 422, "request validation failed"),
    ]
    for body, status, needle in cases:
        bad = api.post("/api/v1/rollouts", role=Role.ENGINEER, json=body)
        assert bad.status_code == status and needle in bad.json()["error"]["message"], (body, bad.text)

    unknown = api.get(f"/api/v1/rollouts/requests/{uuid.uuid4().hex}")
    assert unknown.status_code == 404 and "no rollout request" in unknown.json()["error"]["message"]
    assert api.get("/api/v1/rollouts/requests/short").status_code == 422
    assert api.get("/api/v1/products/tiles/rollout").status_code == 503  # MLflow is down in this app


def test_without_kafka_a_request_is_503(api_factory) -> None:
    api = api_factory(None)
    resp = api.post("/api/v1/rollouts", role=Role.ENGINEER, json={"product": "pcb", "action": "rollback"})
    assert resp.status_code == 503 and "Kafka" in resp.json()["error"]["message"]
    assert api.get("/api/v1/rollouts").json() == []  # nothing stored when nothing was published


def test_rollout_page_roles_and_mlflow_down(api_factory, kafka_settings: KafkaSettings) -> None:
    """The page without a browser: supervisors read, only engineers get (and may post) the forms; with MLflow
    down the stored history still shows, with the error."""
    api = api_factory(kafka_settings)  # MLflow unreachable
    publish(kafka_settings, event("tiles", RolloutState.CANARY, reason="stage 1 of 2"))
    api.client.cookies.set("fl_token", api.tokens[Role.SUPERVISOR])
    page = wait_for(lambda: "stage 1 of 2" in (t := api.client.get("/ui/rollouts?product=tiles").text) and t)
    assert "MLflow" in page and 'id="deploy-form"' not in page and "<b>tiles</b>" in page
    form = {"product": "tiles", "action": "deploy", "version": "2"}
    refused = api.client.post("/ui/rollouts", data=form)
    assert refused.status_code == 403 and "needs role &#39;engineer&#39;" in refused.text
    api.client.cookies.set("fl_token", api.tokens[Role.ENGINEER])
    assert 'id="deploy-form"' in api.client.get("/ui/rollouts?product=tiles").text
    bad = api.client.post("/ui/rollouts", data={**form, "version": "2/3"})
    assert bad.status_code == 422 and "not requested: invalid request (model_version" in bad.text
    cross = api.client.post("/ui/rollouts", data=form, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    sent = api.client.post("/ui/rollouts", data=form, follow_redirects=False)
    assert sent.status_code == 303 and "requested=" in sent.headers["location"]
    api.client.cookies.clear()
