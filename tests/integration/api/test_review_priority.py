"""The review queue offers first the frames that teach the model most, end to end through the real broker:
outcomes, a shadow outcome and a frame are produced to Kafka, the API's sink stores and scores them, and
``GET /review/queue`` lists the uncertain, new/rare class and disagreeing frames before confident common ones,
with the reason of each. Reviews record the time they took (API body, the review page's script or its
render time) and ``GET /stats/reviews`` adds it up per product, class, reviewer and what a frame was offered
for."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

import pytest

from api.security import COOKIE_NAME, Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Outcome, ReviewAction, utc_now
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import real_jpeg, wait_for
from tests.integration.api.review_page import page_data
from tests.support.events import detection, frame, label, outcome

pytestmark = pytest.mark.kafka
THRESHOLDS = {"scratch": 0.5, "crack": 0.5, "pit": 0.5, "dent": 0.5}


def det(name: str, conf: float) -> Any:
    return detection(class_name=name, confidence=conf)


class Line:
    """Outcomes of one station, each with its own frame id; queued ones carry the one stored JPEG."""

    def __init__(self, sha: str) -> None:
        self.sha, self.n, self.t0 = sha, 0, utc_now() - timedelta(hours=1)

    def outcome(self, verdict: str, boxes: tuple, sampled: str | None, **kw: Any) -> Outcome:
        self.n += 1  # a second apart, in the order made
        ts = self.t0 + timedelta(seconds=self.n)
        return outcome(
            ts=ts,
            captured_at=ts,
            frame_id=f"f-{self.n}",
            product="widget",
            verdict=verdict,
            detections=boxes,
            thresholds=THRESHOLDS,
            sample_reason=sampled,
            frame_sent=sampled is not None,
            frame_sha256=self.sha,
            **kw,
        )


def shadow_of(champion: Outcome, boxes: tuple) -> Outcome:
    return champion.model_copy(
        update={
            "event_id": f"shadow{champion.event_id}"[:64],
            "shadow": True,
            "detections": boxes,
            "sample_reason": None,
        }
    )


def produce(kafka: KafkaSettings, events: list[Any], jpeg: bytes | None = None) -> None:
    with EventProducer(kafka) as producer:
        for e in events:
            producer.send_sync(TopicRole.FRAMES if jpeg else TopicRole.OUTCOMES, e, jpeg=jpeg)


def queue(api: Any, n: int, **params: Any) -> list[dict[str, Any]]:
    return wait_for(
        lambda: ((q := api.get("/api/v1/review/queue", params=params).json()) and len(q) >= n and q) or None,
        what=f"{n} queued frames",
    )


def test_queue_offers_uncertain_rare_and_disagreeing_frames_first_and_measures_reviews(
    api_factory, kafka_settings: KafkaSettings
) -> None:
    api = api_factory(kafka_settings)
    jpeg = real_jpeg(7)
    line = Line(hashlib.sha256(jpeg).hexdigest())
    produce(kafka_settings, [frame(jpeg, outcome_event_id=None)], jpeg)
    # History (not queued: no frame sent): scratch is common on this line, pit was seen 3 times.
    history = [line.outcome("FAIL", (det("scratch", 0.96),), None) for _ in range(40)]
    history += [line.outcome("FAIL", (det("pit", 0.96),), None) for _ in range(3)]
    produce(kafka_settings, history)
    wait_for(
        lambda: len(api.get("/api/v1/inspections", params={"limit": 100}).json()["items"]) == 43 or None,
        what="the history stored",
    )
    common = [line.outcome("FAIL", (det("scratch", 0.97),), "fail") for _ in range(6)]
    uncertain = line.outcome("UNCERTAIN", (det("scratch", 0.48),), "uncertain")
    new_class = line.outcome("FAIL", (det("crack", 0.97),), "fail")
    rare = line.outcome("FAIL", (det("pit", 0.97),), "fail")
    pair = line.outcome("FAIL", (det("scratch", 0.97),), "fail")  # its shadow comes in the same send
    late = line.outcome("FAIL", (det("scratch", 0.97),), "fail")  # its shadow comes once it is stored
    produce(kafka_settings, [*common[:3], uncertain, new_class, pair, shadow_of(pair, (det("dent", 0.9),))])
    produce(kafka_settings, [rare, late, *common[3:]])
    queue(api, 11)
    produce(kafka_settings, [shadow_of(late, (det("scratch", 0.9), det("dent", 0.8)))])
    items = wait_for(
        lambda: (
            (
                (q := queue(api, 11))
                and "shadow" in {i["event_id"]: i for i in q}[late.event_id]["reason"]
                and q
            )
            or None
        ),
        what="the late shadow's disagreement",
    )

    ids = [i["event_id"] for i in items]
    assert ids[:2] == [uncertain.event_id, new_class.event_id]
    assert set(ids[2:4]) == {pair.event_id, late.event_id} and ids[4] == rare.event_id
    assert set(ids[5:]) == {c.event_id for c in common}
    why = {i["event_id"]: i["reason"] for i in items}
    assert why[uncertain.event_id] == "uncertain scratch 0.48"
    assert why[new_class.event_id] == "new class crack (first in 7 days)"
    assert why[rare.event_id] == "rare class pit (3 in 7 days)"
    assert why[pair.event_id] == "shadow disagrees: model scratch, shadow dent"
    assert why[late.event_id] == "shadow disagrees: model scratch, shadow dent, scratch"
    assert all(why[c.event_id] == "sampled (fail)" for c in common)
    prio = {i["event_id"]: i["priority"] for i in items}
    assert prio[uncertain.event_id] == pytest.approx(0.4 * 0.96 + 0.35 * 10 / 50, abs=0.02)
    assert max(prio[c.event_id] for c in common) < 0.1 < 0.25 < min(prio[e] for e in ids[:5])
    assert {i["event_id"]: i["disagreement"] for i in items}[pair.event_id] == 1.0
    # Today's order is still there, and a line filter.
    by_time = [i["event_id"] for i in queue(api, 11, order="oldest")]
    assert by_time == [o.event_id for o in [*common, uncertain, new_class, rare, pair, late]]
    assert [i["event_id"] for i in queue(api, 11, order="newest")] == by_time[::-1]
    assert api.get("/api/v1/review/queue", params={"line_id": "line-2"}).json() == []
    assert api.get("/api/v1/review/queue", params={"order": "random"}).status_code == 422

    # Reviews: through the API with the time it took, a label from another producer (no time), the page.
    resp = api.post(f"/api/v1/review/{uncertain.event_id}", json={"action": "confirm", "review_ms": 4200})
    assert resp.status_code == 201, resp.text
    too_long = api.post(
        f"/api/v1/review/{new_class.event_id}", json={"action": "confirm", "review_ms": 3_600_001}
    )
    assert too_long.status_code == 422
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(
            TopicRole.LABELS,
            label(
                outcome_event_id=rare.event_id,
                product="widget",
                action=ReviewAction.CONFIRM,
                detections=(det("pit", 1.0),),
                reviewer="oracle",
            ),
        )
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])
    shown = page_data(api.client.get("/ui/review").text)
    why = {i["event_id"]: i["reason"] for i in shown["items"]}
    assert why[new_class.event_id] == "new class crack (first in 7 days)"
    order = list(why)
    assert order.index(new_class.event_id) < order.index(pair.event_id) < order.index(common[0].event_id)
    shown_at = int(shown["shown_at"])
    sent = api.client.post(
        f"/ui/review/{new_class.event_id}",
        data={"action": "confirm", "shown_at": str(shown_at - 3000), "order": "priority"},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/review?order=priority"
    start = time.monotonic()
    sent = api.client.post(
        f"/ui/review/{pair.event_id}",
        data={
            "action": "correct",
            "class_0": "dent",
            "review_ms": "2500",
            "shown_at": str(shown_at),
            "order": "newest",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/ui/review?order=newest"
    assert time.monotonic() - start < 2.5  # the page's measurement is used, not the render time

    left = wait_for(
        lambda: ((q := queue(api, 7)) and len(q) == 7 and q) or None, what="reviewed frames out of the queue"
    )
    assert {i["event_id"] for i in left} == {late.event_id, *(c.event_id for c in common)}
    reviews = {
        e: api.get(f"/api/v1/inspections/{e}").json()["reviews"] for e in (uncertain.event_id, rare.event_id)
    }
    assert [r["action"] for r in reviews[uncertain.event_id]] == ["confirm"]

    stats = wait_for(
        lambda: ((s := api.get("/api/v1/stats/reviews").json()) and s["reviews"] == 4 and s) or None,
        what="four reviews in the stats",
    )
    assert stats["timed"] == 3 and (stats["confirm"], stats["correct"], stats["reject"]) == (3, 1, 0)
    assert stats["median_s"] == pytest.approx(3.0, abs=0.5)
    assert stats["mean_s"] == pytest.approx((4.2 + 2.5 + 3.0) / 3, abs=0.5)
    assert [(p["product"], p["reviews"], p["timed"]) for p in stats["by_product"]] == [("widget", 4, 3)]
    classes = {c["class_name"]: c for c in stats["by_class"]}
    assert (classes["scratch"]["confirmed"], classes["scratch"]["removed"]) == (1, 1)  # uncertain; pair
    assert (classes["dent"]["added"], classes["dent"]["corrected"]) == (1, 1)
    assert classes["crack"]["confirmed"] == classes["pit"]["confirmed"] == 1
    offered = {o["offered_for"]: o["reviews"] for o in stats["by_offered_for"]}
    assert offered == {"uncertain": 1, "rare_class": 2, "disagreement": 1}
    reviewers = {r["reviewer"]: r for r in stats["by_reviewer"]}
    assert reviewers["oracle"]["timed"] == 0 and reviewers["supervisor-1"]["reviews"] == 3
    now = utc_now()
    reversed_range = {"since": (now + timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    assert api.get("/api/v1/stats/reviews", params=reversed_range).status_code == 422
    assert api.get("/api/v1/stats/reviews", params={"product": "other"}).json()["reviews"] == 0
