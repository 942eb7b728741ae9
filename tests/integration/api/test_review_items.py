"""What the review page's script reads and posts, on SQLite and PostgreSQL: the page's first batch (per frame
its product's classes and the model's boxes), further batches and the count left,
each decision posted as the API's review body (stored with its boxes and ``review_ms``, the same checks as
``POST /api/v1/review``), the reviewers' median and p90 time per review on the page and in
``GET /stats/reviews``."""

from __future__ import annotations

from typing import Any

import pytest

from api.security import COOKIE_NAME, Role
from api.web.review import queue_size
from factoryloop.schemas import Box
from factoryloop.settings import KafkaSettings
from tests.integration.api.review_page import page_data, store_plate_frames

pytestmark = pytest.mark.kafka
SCRATCH = Box(x1=200, y1=266, x2=229, y2=338)


def decide(api: Any, event_id: str, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post(f"/ui/review/{event_id}/decision", json=body, headers=headers)


def stored(api: Any, event_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/inspections/{event_id}").json()["reviews"])


def test_batches_decisions_and_time_per_review(api_factory, kafka_settings: KafkaSettings) -> None:
    api = api_factory(kafka_settings)
    a, b, c = store_plate_frames(
        api,
        [
            (19, [("scratch", SCRATCH, 0.55), ("dent", Box(x1=412, y1=316, x2=444, y2=355), 0.52)]),
            (10, [("scratch", Box(x1=217, y1=258, x2=273, y2=278), 0.6)]),
            (5, [("dent", Box(x1=243, y1=292, x2=255, y2=306), 0.45)]),
        ],
    )
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])
    page = api.client.get("/ui/review", params={"order": "oldest"})
    assert page.status_code == 200, page.text
    data = page_data(page.text)
    assert [i["event_id"] for i in data["items"]] == [a.event_id, b.event_id, c.event_id]
    assert (data["remaining"], data["capped"], data["order"]) == (3, False, "oldest")
    first = data["items"][0]
    assert first["classes"] == ["scratch", "dent", "stain", "crack", "missing_hole"] and first["mapped"]
    assert first["frame"].endswith("?overlay=0") and (first["width"], first["height"]) == (640, 480)
    assert [(x["class_name"], x["box"]) for x in first["boxes"]] == [
        ("scratch", [200, 266, 229, 338]),
        ("dent", [412, 316, 444, 355]),
    ]
    with api.client.app.state.ctx.db.session() as s:  # the count walks at most cap + 1 queue rows
        assert queue_size(s, None, cap=2) == (2, True)
        assert queue_size(s, "line-1", cap=3) == (3, False)
        assert queue_size(s, "line-2") == (0, False)
    batch = api.client.get(data["items_url"] + "&limit=2").json()
    assert [i["event_id"] for i in batch["items"]] == [a.event_id, b.event_id] and batch["remaining"] == 3

    # A correction as the page sends it: the scratch moved, the dent's class changed to stain.
    moved = {"x1": 240.0, "y1": 296.0, "x2": 269.0, "y2": 368.0}
    body = {
        "action": "correct",
        "review_ms": 2500,
        "comment": None,
        "detections": [
            {"class_id": 0, "class_name": "scratch", "box": moved},
            {"class_id": 1, "class_name": "stain", "box": {"x1": 412, "y1": 316, "x2": 444, "y2": 355}},
        ],
    }
    sent = decide(api, a.event_id, body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["action"] == "correct"
    (review,) = stored(api, a.event_id)
    assert review["review_ms"] == 2500 and review["reviewer"] == "supervisor-1"
    assert [(d["class_name"], d["class_id"], d["box"]) for d in review["detections"]] == [
        ("scratch", 0, moved),
        ("stain", 2, {"x1": 412.0, "y1": 316.0, "x2": 444.0, "y2": 355.0}),  # the product's id of stain
    ]
    assert decide(api, b.event_id, {"action": "confirm", "review_ms": 4100}).status_code == 201

    # Refused, nothing stored: a class the product lacks, malformed, no cookie, another origin.
    wrong = decide(api, c.event_id, body | {"detections": [body["detections"][0] | {"class_name": "blob"}]})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "unknown_class"
    assert "'blob' is not a class of product plate" in wrong.json()["error"]["message"]
    assert decide(api, c.event_id, {"action": "confirm", "review_ms": -1}).status_code == 422
    assert decide(api, c.event_id, {"action": "confirm"}, origin="http://evil.example").status_code == 403
    api.client.cookies.clear()
    assert decide(api, c.event_id, {"action": "confirm"}).status_code == 401
    assert api.client.get("/ui/review/items").status_code == 401
    assert stored(api, c.event_id) == []

    # What is left, and the time per review on the page and in the stats (median and p90, nearest rank).
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])
    after = api.client.get("/ui/review/items", params={"order": "oldest"}).json()
    assert [i["event_id"] for i in after["items"]] == [c.event_id] and after["remaining"] == 1
    pace = after["pace"]
    assert pace["all"] == {"timed": 2, "median_s": 3.3, "p90_s": 4.1}
    assert pace["by_reviewer"] == {"supervisor-1": pace["all"]}
    page = api.client.get("/ui/review").text
    assert "you median <b>3.3 s</b>, p90 4.1 s (2)" in page
    stats = api.get("/api/v1/stats/reviews").json()
    assert (stats["timed"], stats["median_s"], stats["p90_s"]) == (2, 3.3, 4.1)
    (mine,) = stats["by_reviewer"]
    assert (mine["reviewer"], mine["median_s"], mine["p90_s"]) == ("supervisor-1", 3.3, 4.1)
