"""Stats over hour/shift/day buckets, top classes and first-seen, on each database backend (rows written
by the
sink's writer directly: no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.schemas import Verdict
from tests.support.events import detection, outcome

T0 = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)  # 05:30 UTC: shift 22-06 with shifts starting at 06


def seed(api) -> list:  # type: ignore[no-untyped-def]
    ctx = api.client.app.state.ctx
    events = []
    for i in range(24):  # one item every 30 minutes for 12 hours
        fail = i % 4 == 0
        events.append(
            outcome(
                ts=T0 + timedelta(minutes=30 * i),
                line_id="line-a" if i % 2 == 0 else "line-b",
                verdict=Verdict.FAIL if fail else Verdict.PASS,
                detections=(detection(class_name="scratch" if i < 12 else "crack"),) if fail else (),
            )
        )
    events.append(outcome(ts=T0, line_id="line-a", verdict=Verdict.FAIL, shadow=True))  # never counted
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write(events)
    return events


def rate(api, **params):  # type: ignore[no-untyped-def]
    resp = api.get(
        "/api/v1/stats/defect-rate",
        params={"since": T0.isoformat(), "until": (T0 + timedelta(hours=12)).isoformat(), **params},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["points"]


@pytest.mark.parametrize(
    ("bucket", "n_buckets", "first_start"),
    [
        ("hour", 13, datetime(2026, 3, 2, 5, tzinfo=UTC)),  # 05:30 .. 17:00
        ("shift", 3, datetime(2026, 3, 1, 22, tzinfo=UTC)),  # 22-06, 06-14, 14-22
        ("day", 1, datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_defect_rate_buckets(api_factory, bucket: str, n_buckets: int, first_start: datetime) -> None:
    api = api_factory(None)
    seed(api)
    points = rate(api, bucket=bucket)
    starts = sorted({datetime.fromisoformat(p["bucket_start"]) for p in points})
    assert len(starts) == n_buckets and starts[0] == first_start
    total = sum(p["total"] for p in points)
    fail = sum(p["fail"] for p in points)
    assert (total, fail) == (24, 6)  # the shadow outcome is excluded
    assert {p["line_id"] for p in points} == {"line-a", "line-b"}
    line_a = rate(api, bucket=bucket, line_id="line-a")
    assert sum(p["fail"] for p in line_a) == 6 and sum(p["total"] for p in line_a) == 12


def test_classes_top_and_first_seen(api_factory) -> None:
    api = api_factory(None)
    seed(api)
    rng = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=12)).isoformat()}
    top = api.get("/api/v1/stats/top-classes", params=rng).json()
    assert top == [{"class_name": "crack", "count": 3}, {"class_name": "scratch", "count": 3}]
    classes = api.get("/api/v1/stats/classes", params={**rng, "bucket": "day"}).json()["points"]
    assert {(p["class_name"], p["count"]) for p in classes} == {("scratch", 3), ("crack", 3)}
    first = api.get("/api/v1/stats/first-seen").json()
    by_class = {f["class_name"]: datetime.fromisoformat(f["first_seen"]) for f in first}
    assert by_class == {"scratch": T0, "crack": T0 + timedelta(hours=6)}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},  # reversed
        {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},  # too long
        {"bucket": "week"},
        {"line_id": "bad id with spaces"},
    ],
)
def test_invalid_stats_parameters(api_factory, params: dict) -> None:
    api = api_factory(None)
    resp = api.get("/api/v1/stats/defect-rate", params=params)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_request"
