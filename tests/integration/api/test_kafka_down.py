"""The API without Kafka: it starts, serves what the database holds with a "live data paused" banner on every
page, answers 503 to what must publish (nothing saved), reports Kafka down in /health while staying ready,
and resumes (sink and producer) once a broker answers, without a restart.

The first test points the API at a port where nothing listens; the second at a real broker of its own that
is stopped when the API starts, started, stopped and started again (with its data)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.frames.store import LocalFrameStore
from api.security import COOKIE_NAME, Role
from api.sink.writer import SinkWriter
from factoryloop.kafka import EventProducer
from factoryloop.kafka.admin import ensure_topics
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.stack.process import free_ports
from factoryloop.stack.settings import StackSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import wait_for
from tests.support.events import outcome

PAGES = ("/ui/", "/ui/defects", "/ui/review", "/ui/fleet", "/ui/models", "/ui/rollouts")
BANNER = "Live data paused"
FAST = {"kafka_probe_s": 0.5, "kafka_timeout_s": 1.0}


def health(api: Any) -> dict[str, Any]:
    resp = api.client.get("/api/v1/health")
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


def kafka_is(api: Any, state: str, timeout_s: float = 60.0) -> dict[str, Any]:
    return wait_for(
        lambda: (h := health(api))["kafka"] == state and h, timeout_s, what=f"/health kafka={state}"
    )


def seed(api: Any, **kw: Any) -> Any:
    """An inspection stored as the sink would have stored it before Kafka went away."""
    ctx = api.client.app.state.ctx
    o = outcome(verdict="UNCERTAIN", sample_reason="uncertain", **kw)
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write([o])
    return o


def review(api: Any, event_id: str) -> Any:
    return api.post(f"/api/v1/review/{event_id}", json={"action": "reject", "comment": "no defect"})


def test_serves_the_database_while_no_broker_answers(api_factory) -> None:
    (port,) = free_ports(1)
    bootstrap = f"127.0.0.1:{port}"
    api = api_factory(KafkaSettings(bootstrap_servers=bootstrap), run_sink=True, **FAST)
    o = seed(api)

    h = kafka_is(api, "unavailable")
    assert (h["status"], h["database"], h["live_data"]) == ("ok", "ok", "paused")
    assert h["sink"] == "waiting"

    # Reads work.
    assert api.get(f"/api/v1/inspections/{o.event_id}").status_code == 200
    assert [i["event_id"] for i in api.get("/api/v1/inspections").json()["items"]] == [o.event_id]
    assert api.get("/api/v1/review/queue").status_code == 200

    # Every page says that live data is paused, since when, and (signed in) which broker it tries.
    login = api.client.get("/ui/login")
    assert login.status_code == 200 and BANNER in login.text and bootstrap not in login.text
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.ENGINEER])
    for page in PAGES:
        resp = api.client.get(page)
        assert resp.status_code == 200, page
        assert BANNER in resp.text and bootstrap in resp.text and " UTC" in resp.text, page

    # Writes that must publish: 503 at once, with the reason, and nothing saved.
    started = time.monotonic()
    refused = review(api, o.event_id)
    assert refused.status_code == 503 and time.monotonic() - started < 3.0
    error = refused.json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert f"Kafka at {bootstrap} is unavailable" in error["message"]
    assert "Nothing was saved" in error["message"]
    assert api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"] == []
    rollout = api.post("/api/v1/rollouts", role=Role.ENGINEER, json={"product": "pcb", "action": "rollback"})
    assert rollout.status_code == 503 and "Nothing was saved" in rollout.json()["error"]["message"]
    assert api.get("/api/v1/rollouts").json() == []
    form = api.client.post(f"/ui/review/{o.event_id}", data={"action": "confirm"}, follow_redirects=False)
    assert form.status_code == 503 and f"Review of {o.event_id} not saved" in form.text
    assert BANNER in form.text

    # Reads that need no Kafka keep working, and so do writes that only touch the database.
    retrain = api.post("/api/v1/retrains", role=Role.ENGINEER, json={"product": "pcb", "reason": "test"})
    assert retrain.status_code in (201, 202), retrain.text


@pytest.fixture(scope="module")
def idle_broker(tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path) -> Iterator[KafkaCluster]:
    """A one-node Kafka of this module, with factoryloop's topics, stopped (tests start it)."""
    port, cport = free_ports(2)
    state, jvm = tmp_path_factory.mktemp("kafka-down"), StackSettings().kafka_jvm
    cluster = KafkaCluster.create(state, kafka_jars, [(port, cport)], jvm=jvm)
    cluster.start(timeout_s=180.0)
    try:
        ensure_topics(KafkaSettings(bootstrap_servers=cluster.bootstrap))
        cluster.stop()
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.kafka
def test_recovers_when_the_broker_comes_back(api_factory, idle_broker: KafkaCluster) -> None:
    idle_broker.stop()  # a previous test of the module may have left it running
    kafka = KafkaSettings(bootstrap_servers=idle_broker.bootstrap)
    api = api_factory(kafka, run_sink=True, **FAST)
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])
    old = seed(api, frame_id="before")
    kafka_is(api, "unavailable")
    assert BANNER in api.client.get("/ui/").text
    assert review(api, old.event_id).status_code == 503

    for round_ in ("started", "restarted"):
        idle_broker.start(timeout_s=180.0)
        h = kafka_is(api, "ok")
        assert h["live_data"] == "flowing"
        assert BANNER not in api.client.get("/ui/").text
        o = outcome(verdict="UNCERTAIN", sample_reason="uncertain", frame_id=round_)
        with EventProducer(kafka) as producer:
            producer.send_sync(TopicRole.OUTCOMES, o)
        wait_for(
            lambda o=o: api.get(f"/api/v1/inspections/{o.event_id}").status_code == 200 or None,
            timeout_s=120.0,
            what=f"outcome sunk after the broker {round_}",
        )
        assert health(api)["sink"] == "running"
        done = wait_for(
            lambda o=o: (r := review(api, o.event_id)).status_code == 201 and r,
            timeout_s=60.0,
            what=f"a review published after the broker {round_}",
        )
        assert done.json()["reviewer"] == "supervisor-1"
        idle_broker.stop()
        kafka_is(api, "unavailable")
        assert BANNER in api.client.get("/ui/review").text
        assert review(api, o.event_id).status_code == 503
