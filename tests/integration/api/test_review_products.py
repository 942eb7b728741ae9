"""Reviews through the HTTP API resolve class names through the frame's product: the label carries the
product's class id and current name; a class the product lacks is a 400 and nothing is published."""

from __future__ import annotations

from typing import Any

import pytest

from api.security import Role
from factoryloop.schemas import Label
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_topic
from tests.integration.api.products import make_pcb, store
from tests.support.events import detection

pytestmark = pytest.mark.kafka


def box(name: str, class_id: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"class_name": name, "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40}}
    return out if class_id is None else {**out, "class_id": class_id}


@pytest.fixture
def pcb_api(api_factory, kafka_settings: KafkaSettings) -> Any:
    api = api_factory(kafka_settings, run_sink=False)
    make_pcb(api.settings.products_dir)
    return api


@pytest.mark.parametrize(
    ("product", "action", "boxes", "expected"),
    [
        ("pcb", "correct", [box("scratch")], [("scratch", 0)]),
        ("pcb", "correct", [box("dent")], [("dent_deep", 1)]),  # a former name: stored as the new one
        ("pcb", "correct", [box("hole", 9)], [("pit", 2)]),  # merged; the body's class_id is not used
        ("pcb", "confirm", [], [("dent_deep", 1)]),  # the model's box named by the old name
        ("ghost", "correct", [box("anything", 5)], [("anything", 5)]),  # no class map: free names
        (None, "correct", [box("anything", 5)], [("anything", 5)]),
    ],
)
def test_review_resolves_classes_through_the_product(
    pcb_api, kafka_settings: KafkaSettings, product: str | None, action: str, boxes: list, expected: list
) -> None:
    o = store(pcb_api, 1, product=product, detections=(detection(class_id=1, class_name="dent"),))
    resp = pcb_api.post(f"/api/v1/review/{o.event_id}", json={"action": action, "detections": boxes})
    assert resp.status_code == 201, resp.text
    assert [(d["class_name"], d["class_id"]) for d in resp.json()["detections"]] == expected

    (label,) = read_topic(kafka_settings, TopicRole.LABELS, 1)
    assert isinstance(label, Label) and label.product == product
    assert [(d.class_name, d.class_id) for d in label.detections] == expected
    stored = pcb_api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"]
    assert [(d["class_name"], d["class_id"]) for d in stored[0]["detections"]] == expected


def test_a_class_the_product_lacks_is_400_and_nothing_is_published(
    pcb_api, kafka_settings: KafkaSettings
) -> None:
    o = store(pcb_api, 1, product="pcb", detections=(detection(class_name="crack"),))
    for body in (
        {"action": "correct", "detections": [box("scratch"), box("crack", 0)]},
        {"action": "confirm"},  # the model's box is 'crack'
    ):
        resp = pcb_api.post(f"/api/v1/review/{o.event_id}", json=body)
        assert resp.status_code == 400, resp.text
        err = resp.json()["error"]
        assert err["code"] == "unknown_class"
        assert "'crack' is not a class of product pcb (classes: scratch, dent_deep, pit)" in err["message"]
    assert pcb_api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"] == []

    free = store(pcb_api, 2, product=None)
    missing_id = pcb_api.post(
        f"/api/v1/review/{free.event_id}", json={"action": "correct", "detections": [box("crack")]}
    )
    assert missing_id.status_code == 422 and "class_id is required" in missing_id.json()["error"]["message"]

    other = store(pcb_api, 3, product="pcb")
    ok = pcb_api.post(f"/api/v1/review/{other.event_id}", json={"action": "reject"}, role=Role.SUPERVISOR)
    assert ok.status_code == 201, ok.text
    labels = read_topic(kafka_settings, TopicRole.LABELS, 1)
    assert [lab.outcome_event_id for lab in labels] == [other.event_id]  # the refused ones never were
