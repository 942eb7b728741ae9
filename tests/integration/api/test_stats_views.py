"""The stats by the site's shift calendar, on each database backend: shift and day buckets in Europe/Berlin
across the night the clocks go forward, a shift filter, product and class filters (summaries for whole hours,
the raw rows at the edges of a range off the hour), compared with the seeded outcomes aggregated in Python."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.schemas import Outcome
from tests.support.events import detection, outcome

BERLIN = ZoneInfo("Europe/Berlin")
SHIFTS = [
    {"name": "early", "start": "06:00", "end": "14:00"},
    {"name": "late", "start": "14:00", "end": "22:00"},
    {"name": "night", "start": "22:00", "end": "06:00"},
]
T0 = datetime(2026, 3, 28, 10, 5, tzinfo=UTC)  # the clocks go forward at 01:00 UTC on the 29th
RANGE = {"since": (T0 + timedelta(minutes=5)).isoformat(), "until": (T0 + timedelta(hours=30)).isoformat()}
CLASSES = ("scratch", "dent", "crack")


def seed(api: Any) -> list[Outcome]:
    events = []
    for k in range(92):  # every 20 minutes for 30 h
        ts = T0 + timedelta(minutes=20 * k)
        verdict = "FAIL" if k % 3 == 0 else "UNCERTAIN" if k % 7 == 1 else "PASS"
        boxes = (
            () if verdict == "PASS" else (detection(class_name=CLASSES[k % 3 if k % 2 else (k // 3) % 3]),)
        )
        events.append(
            outcome(
                ts=ts,
                line_id="line-a" if k % 4 else "line-b",
                station_id=f"st-{k % 2}",
                product="tile" if k % 5 == 0 else "plate",
                verdict=verdict,
                detections=boxes,
            )
        )
    ctx = api.client.app.state.ctx
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write(events)
    since, until = (datetime.fromisoformat(RANGE[k]) for k in ("since", "until"))
    return [o for o in events if since <= o.ts < until]


def shift_of(ts: datetime) -> tuple[str, datetime]:
    """The shift's name and its start (UTC), from the local clock (independently of the API's calendar)."""
    local = ts.astimezone(BERLIN)
    day = local.date()
    if local.hour >= 22 or local.hour < 6:
        name, hour = "night", 22
        if local.hour < 6:
            day -= timedelta(days=1)
    else:
        name, hour = ("early", 6) if local.hour < 14 else ("late", 14)
    start = datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN).astimezone(UTC)
    return name, start


def totals(points: list[dict[str, Any]], key: Any) -> dict[Any, tuple[int, int]]:
    acc: dict[Any, list[int]] = {}
    for p in points:
        t = acc.setdefault(key(p), [0, 0])
        t[0] += p["total"]
        t[1] += p["fail"]
    return {k: (a, b) for k, (a, b) in acc.items()}


def expect(outcomes: list[Outcome], key: Any) -> dict[Any, tuple[int, int]]:
    acc: dict[Any, list[int]] = {}
    for o in outcomes:
        t = acc.setdefault(key(o), [0, 0])
        t[0] += 1
        t[1] += o.verdict == "FAIL"
    return {k: (a, b) for k, (a, b) in acc.items()}


def test_shift_and_day_buckets_in_the_site_zone(api_factory) -> None:
    api = api_factory(None, shifts=SHIFTS, timezone="Europe/Berlin")
    outcomes = seed(api)
    cal = api.get("/api/v1/stats/shifts").json()
    assert cal == {"timezone": "Europe/Berlin", "shifts": SHIFTS}

    resp = api.get("/api/v1/stats/defect-rate", params={**RANGE, "bucket": "shift"})
    assert resp.status_code == 200, resp.text
    points = resp.json()["points"]
    got = totals(points, lambda p: (p["shift"], datetime.fromisoformat(p["bucket_start"])))
    assert got == expect(outcomes, lambda o: shift_of(o.ts))
    night = datetime(2026, 3, 28, 21, tzinfo=UTC)  # 22:00 CET; ends 06:00 CEST = 04:00 UTC
    assert ("night", night) in got and ("early", datetime(2026, 3, 29, 4, tzinfo=UTC)) in got

    days = api.get("/api/v1/stats/defect-rate", params={**RANGE, "bucket": "day"}).json()["points"]
    got_days = totals(days, lambda p: datetime.fromisoformat(p["bucket_start"]))
    local_midnight = lambda o: datetime.combine(o.ts.astimezone(BERLIN).date(), datetime.min.time(), BERLIN)  # noqa: E731
    assert got_days == expect(outcomes, lambda o: local_midnight(o).astimezone(UTC))

    classes = api.get("/api/v1/stats/classes", params={**RANGE, "bucket": "shift"}).json()["points"]
    assert {p["shift"] for p in classes} <= {"early", "late", "night"} and all(p["shift"] for p in classes)


def test_filters_by_shift_product_and_class(api_factory) -> None:
    api = api_factory(None, shifts=SHIFTS, timezone="Europe/Berlin")
    outcomes = seed(api)
    for shift in ("early", "night"):
        mine = [o for o in outcomes if shift_of(o.ts)[0] == shift]
        points = api.get(
            "/api/v1/stats/defect-rate",
            params={**RANGE, "bucket": "hour", "shift": shift, "by_station": True},
        ).json()["points"]
        assert totals(points, lambda p: (p["line_id"], p["station_id"])) == expect(
            mine, lambda o: (o.line_id, o.station_id)
        )
        top = api.get("/api/v1/stats/top-classes", params={**RANGE, "shift": shift}).json()
        boxes = Counter(d.class_name for o in mine if o.verdict != "PASS" for d in o.detections)
        assert {c["class_name"]: c["count"] for c in top} == dict(boxes)

    tiles = [o for o in outcomes if o.product == "tile"]
    rate = api.get("/api/v1/stats/defect-rate", params={**RANGE, "bucket": "day", "product": "tile"}).json()
    assert totals(rate["points"], lambda p: p["line_id"]) == expect(tiles, lambda o: o.line_id)
    top = api.get("/api/v1/stats/top-classes", params={**RANGE, "product": "tile"}).json()
    tile_boxes = Counter(d.class_name for o in tiles if o.verdict != "PASS" for d in o.detections)
    assert {c["class_name"]: c["count"] for c in top} == dict(tile_boxes) and tile_boxes

    scratch = api.get(
        "/api/v1/stats/classes",
        params={**RANGE, "bucket": "day", "class_name": "scratch", "product": "plate"},
    ).json()["points"]
    assert {p["class_name"] for p in scratch} == {"scratch"}
    plate_scratch = sum(
        1
        for o in outcomes
        if o.product == "plate" and o.verdict != "PASS"
        for d in o.detections
        if d.class_name == "scratch"
    )
    assert sum(p["count"] for p in scratch) == plate_scratch > 0

    bad = api.get("/api/v1/stats/defect-rate", params={**RANGE, "shift": "afternoon"})
    assert bad.status_code == 422 and "early, late, night" in bad.json()["error"]["message"]
