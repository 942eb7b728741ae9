"""The review page in headless Chromium, as a supervisor uses it: one frame at a time scaled to the window,
the next frame's image loaded ahead, a box moved and another resized with the mouse, a class changed and a
box deleted and restored with the keyboard, the correction sent with Enter and the next frame confirmed with
C, twenty overlapping boxes within one window (clicks cycle through them), a skip; Back; zoom and pan on a
small defect, with the mouse and with two fingers. The posted boxes, the time of each review and the
reviewer's median / p90 are checked through the API.

Screenshots go to the test's tmp dir, and to ``$FACTORYLOOP_SCREENSHOTS`` when set (``docs/img``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from api.security import Role
from factoryloop.schemas import Box
from factoryloop.settings import KafkaSettings
from tests.integration.api.review_page import crowd, store_plate_frames
from tests.integration.api.test_browser import ARGS, CHROMIUM, serve

pytestmark = [pytest.mark.kafka, pytest.mark.browser]
VIEWPORT = {"width": 1280, "height": 800}
SCRATCH = Box(x1=200, y1=266, x2=229, y2=338)
STAIN = Box(x1=412, y1=316, x2=444, y2=355)
DENT = Box(x1=243, y1=292, x2=255, y2=306)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (the page's queries run on both databases in test_review_items.py)."""
    return f"sqlite:///{tmp_path / 'api.db'}"


def _natural_size(page: Any) -> tuple[int, int]:
    return tuple(
        page.evaluate(
            "() => [document.querySelector('#rv-frame img').naturalWidth, "
            "document.querySelector('#rv-frame img').naturalHeight]"
        )
    )


def css(page: Any, x: float, y: float) -> tuple[float, float]:
    """Frame pixel (x, y) of the shown frame -> page coordinates."""
    bb = page.locator("#rv-svg").bounding_box()
    w, h = _natural_size(page)
    return bb["x"] + x * bb["width"] / w, bb["y"] + y * bb["height"] / h


def frame_point(page: Any, x: float, y: float) -> tuple[float, float]:
    """Page coordinates -> the shown frame's pixel there (the inverse of ``css``)."""
    bb = page.locator("#rv-svg").bounding_box()
    w, h = _natural_size(page)
    return (x - bb["x"]) * w / bb["width"], (y - bb["y"]) * h / bb["height"]


def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*css(page, *start))
    page.mouse.down()
    page.mouse.move(*css(page, (start[0] + end[0]) / 2, (start[1] + end[1]) / 2), steps=4)
    page.mouse.move(*css(page, *end), steps=4)
    page.mouse.up()


def click(page: Any, at: tuple[float, float]) -> None:
    page.mouse.click(*css(page, *at))


def shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), type="jpeg", quality=80)
    if os.environ.get("FACTORYLOOP_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["FACTORYLOOP_SCREENSHOTS"]) / name)


@contextmanager
def review_page(api: Any, *, touch: bool = False) -> Iterator[Any]:
    """Chromium on the served API, logged in as the supervisor, on the review page (oldest first);
    ``touch``: a touch screen besides the mouse (``Touch`` drives it)."""
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set FACTORYLOOP_TEST_CHROMIUM)")
    with serve(api) as (base, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT, has_touch=touch)
            page.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)
            page.goto(f"{base}/ui/login")
            page.fill("#token", api.tokens[Role.SUPERVISOR])
            page.click("#login")
            page.goto(f"{base}/ui/review?order=oldest")
            yield page
        finally:
            browser.close()


def box_of(d: dict[str, Any]) -> list[float]:
    return [d["box"][k] for k in ("x1", "y1", "x2", "y2")]


def test_review_one_frame_at_a_time(api_factory, kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    api = api_factory(kafka_settings)
    a, b, c = store_plate_frames(
        api,
        [
            (19, [("scratch", SCRATCH, 0.55), ("dent", STAIN, 0.52)]),
            (10, [("scratch", Box(x1=217, y1=258, x2=273, y2=278), 0.6)]),
            (5, [("dent", box, 0.3 + k / 100) for k, box in enumerate(crowd(DENT, 20))]),
        ],
    )
    with review_page(api) as page:
        app, rows = page.locator("#review-app"), page.locator("#rv-boxes li")
        accept = page.locator("#rv-accept")
        expect(app).to_have_attribute("data-event-id", a.event_id)
        expect(page.locator("#rv-left")).to_have_text("3 left")
        expect(accept).to_be_enabled()
        expect(rows).to_have_count(2)
        # the next frame's image is loaded while this one is reviewed
        page.wait_for_function(
            "f => performance.getEntriesByType('resource').some(e => e.name.endsWith(f))",
            arg=f"/ui/frames/{b.frame_sha256}?overlay=0",
        )

        drag(page, (214.5, 302), (254.5, 332))  # the scratch moved by (+40, +30)
        expect(rows.nth(0)).to_contain_text("edited")
        expect(accept).to_contain_text("Submit correction")
        click(page, (428, 335))  # select the second box, then its bottom-right handle by (+30, +20)
        expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
        drag(page, (444, 355), (474, 375))
        page.keyboard.press("Shift+Tab")
        expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
        page.keyboard.press("2")  # the product's second class
        expect(rows.nth(0)).to_contain_text("dent")
        page.keyboard.press("Delete")
        expect(rows).to_have_count(1)
        page.keyboard.press("Control+z")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("dent")
        shot(page, tmp_path, "review.jpg")
        page.keyboard.press("Enter")

        expect(app).to_have_attribute("data-event-id", b.event_id)
        expect(page.locator("#rv-left")).to_have_text("2 left")
        expect(accept).to_contain_text("Confirm")
        expect(accept).to_be_enabled()
        page.keyboard.press("c")

        expect(app).to_have_attribute("data-event-id", c.event_id)
        expect(rows).to_have_count(20)
        expect(accept).to_be_enabled()
        height, window = page.evaluate("() => [document.scrollingElement.scrollHeight, innerHeight]")
        assert height <= window == VIEWPORT["height"]
        for part in ("#rv-svg", "#rv-boxes", "#rv-accept", "#rv-legend"):
            bb = page.locator(part).bounding_box()
            assert bb is not None and bb["y"] + bb["height"] <= window, part
        centre = ((DENT.x1 + DENT.x2) / 2, (DENT.y1 + DENT.y2) / 2)  # inside all twenty
        for k in range(3):  # smallest first, then the next larger one under the pointer
            click(page, centre)
            expect(rows.nth(k)).to_have_attribute("aria-selected", "true")
        shot(page, tmp_path, "review-crowded.jpg")
        page.keyboard.press("s")
        expect(page.locator("#queue-empty")).to_be_visible()
        expect(page.locator("#rv-skipped")).to_contain_text("1 skipped")
        expect(page.locator("#rv-session")).to_contain_text("(2)")

    (corrected,) = api.get(f"/api/v1/inspections/{a.event_id}").json()["reviews"]
    assert corrected["action"] == "correct" and corrected["reviewer"] == "supervisor-1"
    assert [d["class_name"] for d in corrected["detections"]] == ["dent", "dent"]
    moved, resized = (box_of(d) for d in corrected["detections"])
    assert moved == pytest.approx([240, 296, 269, 368], abs=1.01)
    assert resized == pytest.approx([412, 316, 474, 375], abs=1.01)
    (confirmed,) = api.get(f"/api/v1/inspections/{b.event_id}").json()["reviews"]
    assert confirmed["action"] == "confirm" and box_of(confirmed["detections"][0]) == [217, 258, 273, 278]
    assert 0 < corrected["review_ms"] < 120_000 and 0 <= confirmed["review_ms"] < 120_000
    assert api.get(f"/api/v1/inspections/{c.event_id}").json()["reviews"] == []  # skipped
    (mine,) = api.get("/api/v1/stats/reviews").json()["by_reviewer"]
    slowest = max(corrected["review_ms"], confirmed["review_ms"]) / 1000
    assert mine["timed"] == 2 and mine["median_s"] <= mine["p90_s"] == slowest


def test_back_to_a_frame_decided_or_skipped(
    api_factory, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """B shows the frame before again: a decided one says what was decided, and a new decision is a second
    review (the count of frames left stays); a skipped one is decided as any other."""
    from playwright.sync_api import expect

    api = api_factory(kafka_settings)
    a, b = store_plate_frames(
        api,
        [(19, [("scratch", SCRATCH, 0.55)]), (10, [("scratch", Box(x1=217, y1=258, x2=273, y2=278), 0.6)])],
    )
    with review_page(api) as page:
        app, again = page.locator("#review-app"), page.locator("#rv-again")
        left, accept = page.locator("#rv-left"), page.locator("#rv-accept")
        expect(app).to_have_attribute("data-event-id", a.event_id)
        expect(accept).to_be_enabled()
        expect(again).to_be_hidden()
        page.keyboard.press("c")  # confirmed, then a second look: no defect after all

        expect(app).to_have_attribute("data-event-id", b.event_id)
        expect(left).to_have_text("1 left")
        page.keyboard.press("b")
        expect(app).to_have_attribute("data-event-id", a.event_id)
        expect(again).to_have_text("You reviewed this frame: confirm. A new decision replaces it.")
        expect(accept).to_be_enabled()
        shot(page, tmp_path, "review-back.jpg")
        page.keyboard.press("r")

        expect(app).to_have_attribute("data-event-id", b.event_id)
        expect(again).to_be_hidden()
        expect(left).to_have_text("1 left")  # a second decision on a frame is not one more frame
        expect(accept).to_be_enabled()
        page.keyboard.press("s")
        expect(page.locator("#queue-empty")).to_be_visible()
        expect(page.locator("#rv-skipped")).to_have_text("1 skipped (B goes back to them)")
        page.keyboard.press("b")  # from the end of the queue back to the skipped frame
        expect(app).to_have_attribute("data-event-id", b.event_id)
        expect(accept).to_be_enabled()
        page.keyboard.press("Enter")
        expect(page.locator("#queue-empty")).to_be_visible()
        expect(page.locator("#rv-skipped")).to_have_text("")
        expect(left).to_have_text("0 left")

    reviews = api.get(f"/api/v1/inspections/{a.event_id}").json()["reviews"]
    assert sorted(r["action"] for r in reviews) == ["confirm", "reject"]
    (confirmed,) = api.get(f"/api/v1/inspections/{b.event_id}").json()["reviews"]
    assert confirmed["action"] == "confirm"


class Touch:
    """Fingers on the page's touch screen, through Chromium's DevTools protocol (Playwright only taps)."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.points: dict[int, tuple[float, float]] = {}

    def _send(self, kind: str) -> None:
        points = [{"x": x, "y": y, "id": i} for i, (x, y) in self.points.items()]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def down(self, finger: int, at: tuple[float, float]) -> None:
        self.points[finger] = at
        self._send("touchStart")

    def move(self, to: dict[int, tuple[float, float]], steps: int = 5) -> None:
        start = dict(self.points)
        for k in range(1, steps + 1):
            for i, (x, y) in to.items():
                self.points[i] = (
                    start[i][0] + (x - start[i][0]) * k / steps,
                    start[i][1] + (y - start[i][1]) * k / steps,
                )
            self._send("touchMove")

    def lift(self) -> None:
        self.points.clear()
        self._send("touchEnd")


def _frame_state(page: Any) -> dict[str, float]:
    return page.evaluate(
        "() => { const s = document.querySelector('#rv-stage');"
        " const i = document.querySelector('#rv-frame img');"
        " return {width: i.getBoundingClientRect().width, left: s.scrollLeft, top: s.scrollTop}; }"
    )


def test_zoom_and_pan_a_small_defect(api_factory, kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    """The wheel zooms about the pointer (the frame point under it stays), Space + drag pans without drawing,
    a box drawn at 2.4x lands on the right frame pixels, 0 shows the whole frame, the next starts whole."""
    from playwright.sync_api import expect

    api = api_factory(kafka_settings)
    a, b = store_plate_frames(api, [(5, [("dent", DENT, 0.4)]), (10, [("scratch", SCRATCH, 0.6)])])
    with review_page(api, touch=True) as page:
        app, rows, level = page.locator("#review-app"), page.locator("#rv-boxes li"), page.locator("#rv-zoom")
        expect(app).to_have_attribute("data-event-id", a.event_id)
        expect(page.locator("#rv-accept")).to_be_enabled()
        expect(level).to_have_text("whole frame")
        whole = _frame_state(page)["width"]
        centre = ((DENT.x1 + DENT.x2) / 2, (DENT.y1 + DENT.y2) / 2)
        pointer = css(page, *centre)
        page.mouse.move(*pointer)
        for _ in range(4):  # 1.25^4: 2.4x
            page.mouse.wheel(0, -100)
        expect(level).to_have_text("2.4x")
        assert _frame_state(page)["width"] == pytest.approx(whole * 1.25**4, abs=2)
        assert css(page, *centre) == pytest.approx(pointer, abs=2)  # the dent stayed under the pointer

        drag(page, (200, 320), (230, 350))  # a box drawn while zoomed
        expect(rows).to_have_count(2)
        before = _frame_state(page)
        page.mouse.move(*css(page, 235, 300))
        page.keyboard.down(" ")
        page.mouse.down()
        page.mouse.move(*css(page, 225, 295), steps=4)  # 10 x 5 frame pixels: ~34 x 17 screen pixels
        page.mouse.up()
        page.keyboard.up(" ")
        after = _frame_state(page)
        scale = after["width"] / page.evaluate("() => document.querySelector('#rv-frame img').naturalWidth")
        assert after["left"] - before["left"] == pytest.approx(10 * scale, abs=2)
        assert after["top"] - before["top"] == pytest.approx(5 * scale, abs=2)
        expect(rows).to_have_count(2)  # the pan drew nothing
        shot(page, tmp_path, "review-zoom.jpg")
        page.keyboard.press("0")
        expect(level).to_have_text("whole frame")
        assert _frame_state(page)["width"] == pytest.approx(whole, abs=1)
        page.keyboard.press("+")
        page.keyboard.press("Enter")

        expect(app).to_have_attribute("data-event-id", b.event_id)
        expect(level).to_have_text("whole frame")
        expect(page.locator("#rv-accept")).to_be_enabled()
        assert _frame_state(page)["width"] == pytest.approx(whole, abs=1)

        # two fingers: the first lands on the scratch and drags it 30 px (a box move), the second makes it a
        # pinch, which undoes the move; spread from 100 to 200 px: 2x about their middle, which then pans
        fingers, first = Touch(page), css(page, 205, 300)
        fingers.down(0, first)
        fingers.move({0: (first[0] - 30, first[1])}, steps=3)
        fingers.down(1, (first[0] + 70, first[1]))
        mid = (first[0] + 20, first[1])
        at_mid = frame_point(page, *mid)
        spread = {0: (mid[0] - 100, mid[1]), 1: (mid[0] + 100, mid[1])}
        fingers.move(spread)
        expect(level).to_have_text("2.0x")
        assert css(page, *at_mid) == pytest.approx(mid, abs=3)  # the frame point under the middle stayed
        panned = _frame_state(page)
        fingers.move({i: (x - 40, y - 20) for i, (x, y) in spread.items()})  # both fingers 40 x 20 px
        fingers.lift()
        after = _frame_state(page)
        assert (after["left"] - panned["left"], after["top"] - panned["top"]) == pytest.approx(
            (40, 20), abs=3
        )
        fingers.down(0, css(page, 185, 345))  # one finger draws
        fingers.move({0: css(page, 198, 358)})
        fingers.lift()
        expect(rows).to_have_count(2)
        page.keyboard.press("Enter")
        expect(page.get_by_text("Nothing to review.")).to_be_visible()  # b was the last frame

    (corrected,) = api.get(f"/api/v1/inspections/{a.event_id}").json()["reviews"]
    assert corrected["action"] == "correct"
    boxes = sorted(box_of(d) for d in corrected["detections"])
    assert boxes[0] == pytest.approx([200, 320, 230, 350], abs=1.01)
    assert boxes[1] == [DENT.x1, DENT.y1, DENT.x2, DENT.y2]
    (touched,) = api.get(f"/api/v1/inspections/{b.event_id}").json()["reviews"]
    boxes = sorted(box_of(d) for d in touched["detections"])
    assert boxes[0] == pytest.approx([185, 345, 198, 358], abs=1.01)  # drawn with one finger at 2x
    assert boxes[1] == [SCRATCH.x1, SCRATCH.y1, SCRATCH.x2, SCRATCH.y2]  # the pinch undid the move
