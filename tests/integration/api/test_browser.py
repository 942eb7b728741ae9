"""The dashboard in headless Chromium: log in with a token, see a defect produced on Kafka and sunk,
review it, and find the Label on Kafka."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Box, Label, ReviewAction
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
    api = api_factory(kafka_settings)
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
    yield f"http://127.0.0.1:{port}", api
    server.should_exit = True
    thread.join(10)


def draw_correction(page, item) -> None:  # type: ignore[no-untyped-def]
    """Relabel box 0, remove box 1, drag a new box (CSS 100,100 -> 220,180 on a 320 px wide view of the
    160 px frame: frame 50,50 -> 110,90) and call it 'scratch', then submit the correction."""
    from playwright.sync_api import expect

    img = item.locator(".annotate img")
    expect(img).to_have_attribute("src", re.compile(r"overlay=0"))
    expect(img).to_have_js_property("complete", True)
    expect(item.locator(".box.model")).to_have_count(2)
    item.locator("input[name=class_0]").fill("dent")
    item.locator("li.model-box").nth(1).locator("button.remove").click()
    expect(item.locator(".box.model")).to_have_count(1)
    bb = img.bounding_box()
    assert bb is not None and round(bb["width"]) == 320
    page.mouse.move(bb["x"] + 100, bb["y"] + 100)
    page.mouse.down()
    page.mouse.move(bb["x"] + 160, bb["y"] + 140, steps=4)
    page.mouse.move(bb["x"] + 220, bb["y"] + 180, steps=4)
    page.mouse.up()
    expect(item.locator(".box.new")).to_have_count(1)
    item.locator("input[name=new_class_0]").fill("scratch")
    item.locator("button.correct").click()


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

            page.goto(f"{base}/ui/review")
            item = page.locator(f'article[data-event-id="{o.event_id}"]')
            expect(item).to_be_visible()
            item.locator("input[name=comment]").fill("real crack")
            item.locator("button.confirm").click()
            second = page.locator(f'article[data-event-id="{o2.event_id}"]')
            expect(second).to_be_visible()
            expect(item).to_have_count(0)
            draw_correction(page, second)
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
    # the page's script measured each review (from showing the queue to the submit)
    for e in (o.event_id, o2.event_id):
        (review,) = api.get(f"/api/v1/inspections/{e}").json()["reviews"]  # type: ignore[attr-defined]
        assert 0 < review["review_ms"] < 120_000
