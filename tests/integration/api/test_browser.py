"""The dashboard in headless Chromium: log in with a token, see a defect produced on Kafka and sunk,
review it, and find the Label on Kafka; the rollout panel shows what the controller reported and asks it for
a deploy."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Box, Label, ReviewAction, RolloutEvent, RolloutRequest, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import read_topic, real_jpeg
from tests.support.events import detection, frame, outcome

CHROMIUM = Path(os.environ.get("FACTORYLOOP_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = [pytest.mark.kafka, pytest.mark.browser]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: overrides the sqlite/postgres parametrisation (the SQL is covered on both elsewhere)."""
    return f"sqlite:///{tmp_path / 'api.db'}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(api_factory, kafka_settings: KafkaSettings) -> Iterator[tuple[str, object]]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set FACTORYLOOP_TEST_CHROMIUM)")
    with serve(api_factory(kafka_settings)) as base:
        yield base


@contextmanager
def serve(api: Any) -> Iterator[tuple[str, Any]]:
    """The app of ``api`` served by uvicorn on a free port: (base URL, api)."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", api
    finally:
        server.should_exit = True
        thread.join(10)


def draw_correction(page) -> None:  # type: ignore[no-untyped-def]
    """On the review page's frame (160x120, no product: free class names): relabel box 1 'dent', delete box
    2, drag a new box from frame 110,90 to 50,50 and call it 'scratch', then submit the correction (Enter)."""
    from playwright.sync_api import expect

    rows = page.locator("#rv-boxes li")
    expect(page.locator("#rv-accept")).to_be_enabled()  # the frame is shown
    expect(rows).to_have_count(2)
    page.keyboard.press("Tab")
    page.fill("#rv-class-name", "dent")
    page.press("#rv-class-name", "Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    expect(rows).to_have_count(1)
    page.keyboard.press("Escape")  # nothing selected: the name is for the next drawn box
    page.fill("#rv-class-name", "scratch")
    page.press("#rv-class-name", "Enter")
    bb = page.locator("#rv-svg").bounding_box()
    assert bb is not None
    scale = bb["width"] / 160
    page.mouse.move(bb["x"] + 110 * scale, bb["y"] + 90 * scale)
    page.mouse.down()
    page.mouse.move(bb["x"] + 80 * scale, bb["y"] + 70 * scale, steps=4)
    page.mouse.move(bb["x"] + 50 * scale, bb["y"] + 50 * scale, steps=4)
    page.mouse.up()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("scratch")
    page.keyboard.press("Enter")


def test_login_see_defect_review_it(served, kafka_settings: KafkaSettings) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, api = served
    jpeg = real_jpeg(7)
    sha = hashlib.sha256(jpeg).hexdigest()
    o = outcome(
        verdict="FAIL", sample_reason="fail", frame_sha256=sha, detections=(detection(class_name="crack"),)
    )
    jpeg2 = real_jpeg(8)
    o2 = outcome(
        verdict="UNCERTAIN",
        sample_reason="uncertain",
        frame_sha256=hashlib.sha256(jpeg2).hexdigest(),
        detections=(
            detection(class_name="crack", confidence=0.4),
            detection(class_name="pit", box=Box(x1=100, y1=10, x2=150, y2=40)),
        ),
    )
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.OUTCOMES, o)
        producer.send_sync(TopicRole.FRAMES, frame(jpeg, outcome_event_id=o.event_id), jpeg=jpeg)
        producer.send_sync(TopicRole.OUTCOMES, o2)
        producer.send_sync(TopicRole.FRAMES, frame(jpeg2, outcome_event_id=o2.event_id), jpeg=jpeg2)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)  # generous: CI machines are shared
            expect.set_options(timeout=30_000)
            page.goto(f"{base}/ui/")
            expect(page).to_have_url(f"{base}/ui/login")
            page.fill("#token", "flt_wrong")
            page.click("#login")
            expect(page.get_by_role("alert")).to_contain_text("Invalid")
            page.fill("#token", api.tokens[Role.SUPERVISOR])  # type: ignore[attr-defined]
            page.click("#login")
            expect(page.locator("h1")).to_contain_text("Lines")

            defect = page.locator(f'figure[data-event-id="{o.event_id}"]')
            for _ in range(100):  # the sink may still be catching up
                page.goto(f"{base}/ui/defects")
                if defect.count():
                    break
                time.sleep(0.2)
            expect(defect).to_contain_text("crack")
            img = defect.locator("img")
            expect(img).to_have_js_property("complete", True)
            assert img.evaluate("i => i.naturalWidth") == 160  # the overlay JPEG loaded with the cookie

            page.goto(f"{base}/ui/review?order=oldest")
            shown = page.locator("#review-app")
            expect(shown).to_have_attribute("data-event-id", o.event_id)
            page.fill("#rv-comment", "real crack")
            page.locator("#rv-accept").click()
            expect(shown).to_have_attribute("data-event-id", o2.event_id)
            draw_correction(page)
            expect(page.locator("#queue-empty")).to_be_visible()
        finally:
            browser.close()

    label, corrected = read_topic(kafka_settings, TopicRole.LABELS, 2)
    assert isinstance(label, Label)
    assert corrected.outcome_event_id == o2.event_id and corrected.action is ReviewAction.CORRECT
    # relabelled model box, the wrong one removed, and the box drawn with the mouse (frame pixels)
    assert [(d.class_name, d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in corrected.detections] == [
        ("dent", 10, 20, 50, 60),
        ("scratch", 50, 50, 110, 90),
    ]
    assert label.outcome_event_id == o.event_id and label.action is ReviewAction.CONFIRM
    assert label.reviewer == "supervisor-1" and label.comment == "real crack"
    assert [d.class_name for d in label.detections] == ["crack"]
    # the page's script measured each review (from showing the frame to the decision)
    for e in (o.event_id, o2.event_id):
        (review,) = api.get(f"/api/v1/inspections/{e}").json()["reviews"]  # type: ignore[attr-defined]
        assert 0 < review["review_ms"] < 120_000


@pytest.mark.mlflow
def test_rollout_panel_shows_the_canary_and_asks_for_a_deploy(
    api_factory, kafka_settings: KafkaSettings, mlflow_server: str
) -> None:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set FACTORYLOOP_TEST_CHROMIUM)")
    product = f"tile{uuid.uuid4().hex[:6]}"
    name = f"factoryloop-{product}"
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_registered_model(name, tags={"product": product})
    for _ in range(2):
        client.create_model_version(name, source=f"s3://models/{name}/model", tags={"product": product})
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    canary = RolloutEvent(
        rollout_id="r" * 16,
        product=product,
        model_name=name,
        model_version="2",
        previous_version="1",
        state=RolloutState.CANARY,
        stages=2,
        agents=("agent-7",),
        reason="stage 1 of 2: one agent",
        evidence={"outcomes": 250.0, "p99_ms": 21.5},
    )
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.ROLLOUTS, canary, key=product)

    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    with serve(api) as (base, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page.goto(f"{base}/ui/login")
            page.fill("#token", api.tokens[Role.ENGINEER])
            page.click("#login")
            expect(page.locator("h1")).to_contain_text("Lines")
            panel = page.locator("#in-flight")
            for _ in range(100):  # the sink may still be catching up
                page.goto(f"{base}/ui/rollouts?product={product}")
                if panel.count():
                    break
                time.sleep(0.2)
            expect(page.locator("#champion")).to_have_text("v1")
            expect(page.locator("#challenger")).to_have_text("v2")
            expect(panel).to_contain_text("canary")
            expect(panel).to_contain_text("stage 1 of 2")
            expect(panel.locator(".agents")).to_have_text("agent-7")
            expect(panel.locator("table.evidence")).to_contain_text("p99_ms")
            expect(page.locator("#rollout-history")).to_contain_text("stage 1 of 2: one agent")

            form = page.locator("#deploy-form")
            form.locator("input[name=version]").fill("2")
            form.locator("input[name=staged]").uncheck()
            form.locator("input[name=reason]").fill("canary looks good")
            form.locator("button").click()
            expect(page.locator("#rollout-message")).to_contain_text("stays 'requested'")
            expect(page.locator(".pending")).to_contain_text("canary looks good")
            page.locator("#rollback-form button").click()
            expect(page.locator(".pending li")).to_have_count(2)
        finally:
            browser.close()

    deploy, rollback = read_topic(kafka_settings, TopicRole.ROLLOUTS, 3)[1:]
    assert isinstance(deploy, RolloutRequest) and deploy.product == product
    assert (deploy.action.value, deploy.model_version, deploy.staged) == ("deploy", "2", False)
    assert deploy.requested_by == "engineer-1" and deploy.reason == "canary looks good"
    assert (rollback.action.value, rollback.to_version, rollback.reason) == ("rollback", None, None)
