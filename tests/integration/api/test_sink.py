"""The sink on a real broker and database: outcomes become queryable, duplicates are ignored, malformed
records
are dead-lettered while the sink carries on, frames land in the store, heartbeats show in the fleet."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest

from api.frames.store import LocalFrameStore
from api.sink.runner import Sink
from factoryloop.kafka import EventProducer
from factoryloop.schemas import DeadLetter, ModelRef, utc_now
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import (
    direct,
    direct_sightings,
    read_topic,
    real_jpeg,
    sightings,
    summaries,
    wait_for,
)
from tests.support.events import detection, frame, heartbeat, outcome

pytestmark = pytest.mark.kafka


def count(api, **params) -> int:  # type: ignore[no-untyped-def]
    resp = api.get("/api/v1/inspections", params={"limit": 500, **params})
    assert resp.status_code == 200, resp.text
    return len(resp.json()["items"])


def test_outcomes_become_queryable_and_duplicates_are_ignored(
    api_factory, kafka_settings: KafkaSettings
) -> None:
    api = api_factory(kafka_settings)
    t0 = utc_now() - timedelta(minutes=5)
    events = [
        outcome(
            ts=t0 + timedelta(seconds=i),
            line_id=f"line-{i % 2}",
            verdict="FAIL" if i % 3 == 0 else "PASS",
            detections=(detection(class_name="dent" if i % 2 else "scratch"),) if i % 3 == 0 else (),
            model=ModelRef(name="widget", version=str(1 + i % 2)),
        )
        for i in range(30)
    ]
    with EventProducer(kafka_settings) as producer:
        for ev in events:
            producer.send(TopicRole.OUTCOMES, ev)
        for ev in events[:10]:  # at-least-once: a replay must not double anything
            producer.send(TopicRole.OUTCOMES, ev)
        producer.flush()
    wait_for(lambda: count(api) == 30 or None, what="30 inspections")
    wait_for(lambda: api.client.app.state.sink.stats.events >= 40 or None, what="all 40 records consumed")
    assert count(api) == 30
    assert count(api, line_id="line-0") == 15
    assert count(api, verdict="FAIL") == 10
    assert count(api, class_name="dent") == 5
    assert count(api, model_version="2") == 15
    assert count(api, since=(t0 + timedelta(seconds=10)).isoformat()) == 20

    page = api.get("/api/v1/inspections", params={"limit": 7}).json()
    seen = [i["event_id"] for i in page["items"]]
    while page["next_cursor"]:
        page = api.get("/api/v1/inspections", params={"limit": 7, "cursor": page["next_cursor"]}).json()
        seen += [i["event_id"] for i in page["items"]]
    assert seen == [e.event_id for e in reversed(events)]

    detail = api.get(f"/api/v1/inspections/{events[0].event_id}").json()
    assert detail["verdict"] == "FAIL" and detail["thresholds"] == {"scratch": 0.5}
    assert detail["detections"][0]["class_name"] == "scratch" and detail["reviews"] == []


def test_malformed_record_is_dead_lettered_and_sink_carries_on(
    api_factory, kafka_settings: KafkaSettings
) -> None:
    api = api_factory(kafka_settings)
    good = outcome()
    with EventProducer(kafka_settings) as producer:
        producer.send_raw(kafka_settings.topics.outcomes, b"{not json", key="line-1/st-1").get(10)
        producer.send_raw(kafka_settings.topics.outcomes, b'{"schema_version": 99}', key="line-1/st-1").get(
            10
        )
        producer.send_sync(TopicRole.OUTCOMES, good)
    wait_for(lambda: count(api) == 1 or None, what="the good outcome after two bad ones")
    letters = read_topic(kafka_settings, TopicRole.DEAD_LETTERS, 2)
    assert all(isinstance(x, DeadLetter) for x in letters)
    assert {x.original_value() for x in letters} == {b"{not json", b'{"schema_version": 99}'}
    assert "schema_version" in letters[1].reason


def test_frames_are_stored_by_hash_and_heartbeats_feed_the_fleet(
    api_factory, kafka_settings: KafkaSettings
) -> None:
    api = api_factory(kafka_settings)
    jpeg = real_jpeg()
    sha = hashlib.sha256(jpeg).hexdigest()
    o = outcome(frame_sha256=sha, verdict="UNCERTAIN", sample_reason="uncertain")
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.OUTCOMES, o)
        producer.send_sync(TopicRole.FRAMES, frame(jpeg, outcome_event_id=o.event_id), jpeg=jpeg)
        producer.send_sync(TopicRole.HEARTBEATS, heartbeat(ts=utc_now() - timedelta(seconds=5), fps=10.0))
        producer.send_sync(
            TopicRole.HEARTBEATS, heartbeat(fps=24.0, model=ModelRef(name="widget", version="3"))
        )
        producer.send_sync(
            TopicRole.HEARTBEATS, heartbeat(agent_id="agent-old", ts=utc_now() - timedelta(hours=1))
        )
    resp = wait_for(
        lambda: ((r := api.get(f"/api/v1/frames/{sha}")).status_code == 200 and r) or None,
        what="the stored frame",
    )
    assert resp.content == jpeg and resp.headers["content-type"] == "image/jpeg"
    overlay = api.get(f"/api/v1/frames/{sha}", params={"overlay": 1})
    assert overlay.status_code == 200 and overlay.content[:2] == b"\xff\xd8" and overlay.content != jpeg
    assert api.get(f"/api/v1/frames/{'0' * 64}").status_code == 404
    assert api.get("/api/v1/frames/not-a-hash").status_code == 422

    queue = wait_for(lambda: api.get("/api/v1/review/queue").json() or None, what="review queue")
    assert [q["event_id"] for q in queue] == [o.event_id]

    agents = wait_for(lambda: ((a := api.get("/api/v1/fleet/agents").json()) and len(a) == 2 and a) or None)
    by_id = {a["agent_id"]: a for a in agents}
    assert by_id["agent-1"]["fps"] == 24.0 and by_id["agent-1"]["online"] is True
    assert by_id["agent-1"]["model_version"] == "3"
    assert by_id["agent-old"]["online"] is False


@pytest.mark.parametrize("pipeline", [False, True], ids=["serial", "pipelined"])
def test_failed_batches_are_rewound_and_each_event_is_counted_once(
    api_factory, kafka_settings: KafkaSettings, tmp_path, pipeline: bool
) -> None:
    """Writes fail while a summary table is missing; the sink rewinds to the committed offsets and retries,
    then stores and counts every event once (replays included), serial or pipelined."""
    api = api_factory(None)
    db = api.client.app.state.ctx.db
    sink = Sink(
        kafka_settings,
        db.engine,
        LocalFrameStore(tmp_path / "sink-frames"),
        group_id=f"rewind-{uuid.uuid4().hex[:8]}",
        poll_timeout_ms=100,
        retry_delay_s=0.2,
        pipeline=pipeline,
    )
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE hourly_inspections RENAME TO hourly_inspections_off")
    t0 = utc_now() - timedelta(hours=3)
    events = [
        outcome(
            ts=t0 + timedelta(minutes=3 * i),
            line_id=f"line-{i % 3}",
            verdict="FAIL" if i % 4 == 0 else "PASS",
            detections=(detection(class_name="dent"),) if i % 4 == 0 else (),
        )
        for i in range(60)
    ]
    with EventProducer(kafka_settings) as producer:
        for ev in events + events[:20]:
            producer.send(TopicRole.OUTCOMES, ev)
        producer.flush()
    sink.start()
    try:
        wait_for(lambda: sink.stats.failures >= 2 or None, what="failed and retried batches")
        assert count(api) == 0
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE hourly_inspections_off RENAME TO hourly_inspections")
        wait_for(lambda: sink.stats.events >= 80 or None, what="all 80 records written after the repair")
    finally:
        sink.stop()
    assert count(api) == 60
    counts, by_class = direct(db)
    assert summaries(db) == (counts, by_class)
    assert sightings(db) == direct_sightings(db)
    assert sum(counts.values()) == 60 and sum(v[0] for v in by_class.values()) == 15
