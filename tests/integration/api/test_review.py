"""Reviews produce Label events on Kafka (reviewer = token name) and land in the review history."""

from __future__ import annotations

import pytest

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Label, ReviewAction
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_topic, wait_for
from tests.support.events import outcome

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize(
    ("action", "body_detections", "expected_boxes"),
    [
        ("confirm", [], 1),
        ("reject", [], 0),
        (
            "correct",
            [{"class_id": 1, "class_name": "dent", "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40}}],
            1,
        ),
    ],
)
def test_review_produces_a_label(
    api_factory, kafka_settings: KafkaSettings, action: str, body_detections: list, expected_boxes: int
) -> None:
    api = api_factory(kafka_settings)
    o = outcome(verdict="UNCERTAIN", sample_reason="uncertain")
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.OUTCOMES, o)
    wait_for(
        lambda: api.get(f"/api/v1/inspections/{o.event_id}").status_code == 200 or None, what="sunk outcome"
    )

    resp = api.post(
        f"/api/v1/review/{o.event_id}",
        json={"action": action, "detections": body_detections, "comment": "checked"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["reviewer"] == "supervisor-1"

    (label,) = read_topic(kafka_settings, TopicRole.LABELS, 1)
    assert isinstance(label, Label)
    assert label.outcome_event_id == o.event_id and label.frame_sha256 == o.frame_sha256
    assert label.action is ReviewAction(action) and label.reviewer == "supervisor-1"
    assert len(label.detections) == expected_boxes
    assert all(d.confidence == 1.0 for d in label.detections)

    # The sink reads its own label back: still one review in the history (deduplicated on event_id).
    wait_for(lambda: api.client.app.state.sink.stats.events >= 2 or None, what="label consumed by the sink")
    reviews = api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"]
    assert [r["event_id"] for r in reviews] == [label.event_id]


def test_invalid_reviews_are_refused(api_factory) -> None:
    api = api_factory(None)
    missing = api.post("/api/v1/review/" + "f" * 32, json={"action": "confirm"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = api.post("/api/v1/review/" + "f" * 32, json={"action": "maybe"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert api.post("/api/v1/review/x", json={"action": "confirm"}).status_code == 422  # id too short
    assert (
        api.post("/api/v1/review/" + "f" * 32, json={"action": "confirm"}, role=Role.SUPERVISOR).status_code
        == 404
    )
