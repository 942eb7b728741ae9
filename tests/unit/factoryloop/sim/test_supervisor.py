"""The simulated supervisor: its review of a queued inspection from the simulator's truth, and its walk of the
API's review queue (priority pages, one POST per review, a budget), against a fake API."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from factoryloop.sim import Oracle, SimConfig
from factoryloop.sim.supervisor import ApiSupervisor, decisions_match, parse_item_id, review_body

SEED = 3


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(SimConfig(), seed=SEED)


def first_index(oracle: Oracle, *, defective: bool, skip: int = 0) -> int:
    found = [i for i in range(500) if oracle.truth(i).defect_free is not defective]
    return found[skip]


def api_detections(oracle: Oracle, index: int) -> list[dict[str, Any]]:
    return [
        {
            "class_id": b.class_id,
            "class_name": b.class_name,
            "confidence": 0.8,
            "box": {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2},
        }
        for b in oracle.truth(index).boxes
    ]


def test_wrong_decision_is_corrected_with_the_truth(oracle: Oracle) -> None:
    i = first_index(oracle, defective=True)
    body = review_body(oracle.truth(i).boxes, [])
    assert body["action"] == "correct"
    assert [d["class_name"] for d in body["detections"]] == [b.class_name for b in oracle.truth(i).boxes]


def test_right_decision_is_confirmed(oracle: Oracle) -> None:
    i = first_index(oracle, defective=True)
    assert review_body(oracle.truth(i).boxes, api_detections(oracle, i)) == {"action": "confirm"}


def test_false_alarm_on_good_part_is_rejected(oracle: Oracle) -> None:
    i = first_index(oracle, defective=False)
    other = first_index(oracle, defective=True)
    assert review_body(oracle.truth(i).boxes, api_detections(oracle, other)) == {"action": "reject"}


def test_item_ids_of_the_simulated_camera() -> None:
    assert parse_item_id("sim-11-100042") == (11, 100042)
    assert parse_item_id("cam-1-2") is None
    assert parse_item_id(None) is None
    assert parse_item_id("sim-x-1") is None


@pytest.mark.parametrize(
    ("truth_boxes", "pred_boxes", "match"),
    [
        ([("scratch", (0, 0, 10, 10))], [("scratch", (0, 0, 10, 10))], True),
        ([("scratch", (0, 0, 10, 10))], [("dent", (0, 0, 10, 10))], False),
        ([("scratch", (0, 0, 10, 10))], [("scratch", (20, 20, 30, 30))], False),
        ([], [("scratch", (0, 0, 10, 10))], False),
        ([("scratch", (0, 0, 10, 10))], [], False),
        ([], [], True),
    ],
)
def test_decisions_match(
    truth_boxes: list[tuple[str, tuple[float, float, float, float]]],
    pred_boxes: list[tuple[str, tuple[float, float, float, float]]],
    match: bool,
) -> None:
    assert decisions_match(truth_boxes, pred_boxes) is match


class FakeApi:
    """The review queue (priority order = list order) and the review endpoint."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.reviews: list[tuple[str, dict[str, Any]]] = []
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer tok"
        if request.method == "GET" and request.url.path == "/api/v1/review/queue":
            self.queries.append(dict(request.url.params))
            limit = int(request.url.params["limit"])
            return httpx.Response(200, json=self.items[:limit])
        if request.method == "POST" and request.url.path.startswith("/api/v1/review/"):
            event_id = request.url.path.rsplit("/", 1)[-1]
            self.items = [i for i in self.items if i["event_id"] != event_id]
            self.reviews.append((event_id, json.loads(request.content)))
            return httpx.Response(201, json={})
        return httpx.Response(404)


def test_reviews_the_queue_in_its_order_until_the_budget(oracle: Oracle) -> None:
    defective = [first_index(oracle, defective=True, skip=k) for k in range(5)]
    items = [
        {"event_id": f"e{n}", "item_id": f"sim-{SEED}-{i}", "detections": []} for n, i in enumerate(defective)
    ]
    items.insert(1, {"event_id": "other", "item_id": "cam-7", "detections": []})  # not a simulated part
    api = FakeApi(items)
    t = httpx.MockTransport(api)
    sup = ApiSupervisor("http://api", "tok", {SEED: oracle}, line_id="line-1", budget=3, page=2, transport=t)
    sup.start()
    deadline = time.monotonic() + 10
    while not sup.spent and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.stop()
    assert sup.error is None
    assert [e for e, _ in api.reviews] == ["e0", "e1", "e2"]  # in the queue's order, the budget's 3
    assert all(body["action"] == "correct" for _, body in api.reviews)
    assert sup.log.total == 3 and sup.log.actions == {"correct": 3} and sup.log.skipped == 1
    assert api.queries[0] == {"order": "priority", "limit": "2", "line_id": "line-1"}
    classes = {b.class_name for i in defective[:3] for b in oracle.truth(i).boxes}
    assert set(sup.log.by_class) == classes
