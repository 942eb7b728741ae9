"""Units of the summaries: UTC hours, what a batch adds to the hourly tables, how a stats range splits into
whole hours and edges, and bucket starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.services.stats import Window, _split, bucketer
from api.services.timerange import Bucket
from api.sink.rows import to_rows
from api.sink.summary import hour_of, summarise
from tests.support.events import detection, outcome

T = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ts", "hour"),
    [
        (datetime(2026, 3, 2, 5, 59, 59, 999999, tzinfo=UTC), T),
        (datetime(2026, 3, 2, 10, 45, tzinfo=timezone(timedelta(hours=5, minutes=30))), T),  # 05:15Z
        (datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=-5))), T),  # 05:30Z
    ],
)
def test_hour_of_is_the_utc_hour(ts: datetime, hour: datetime) -> None:
    assert hour_of(ts) == hour


def test_summarise_counts_non_shadow_rows_and_their_boxes() -> None:
    kept = outcome(ts=T + timedelta(minutes=5), verdict="FAIL", detections=(detection(), detection()))
    late = outcome(ts=T + timedelta(minutes=50), verdict="FAIL", detections=(detection(),))
    passed = outcome(ts=T + timedelta(minutes=7), verdict="PASS", detections=(detection(class_name="pit"),))
    shadow = outcome(ts=T, verdict="FAIL", shadow=True, detections=(detection(),))
    rows = to_rows([kept, late, passed, shadow])
    hourly, hourly_dets, sightings = summarise(rows.inspections, rows.detections)
    assert sorted((r["verdict"], r["n"]) for r in hourly) == [("FAIL", 2), ("PASS", 1)]
    assert all(r["hour"] == T and r["product"] == "" for r in hourly)
    by_verdict = {(r["verdict"], r["class_name"]): r for r in hourly_dets}
    assert by_verdict["FAIL", "scratch"]["n"] == 3 and by_verdict["PASS", "pit"]["n"] == 1
    assert (by_verdict["FAIL", "scratch"]["first_ts"], by_verdict["FAIL", "scratch"]["last_ts"]) == (
        kept.ts,
        late.ts,
    )
    assert sightings == [
        {"line_id": "line-1", "class_name": "scratch", "n": 3, "first_ts": kept.ts, "last_ts": late.ts}
    ]  # PASS boxes and shadow outcomes are not sightings
    _, dets_of_missing, _ = summarise([], rows.detections)  # boxes of outcomes not inserted: not counted
    assert dets_of_missing == []


H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("since", "until", "whole", "edges"),
    [
        (T, T + 3 * H, (T, T + 3 * H), []),
        (T + timedelta(minutes=10), T + 3 * H, (T + H, T + 3 * H), [(T + timedelta(minutes=10), T + H)]),
        (
            T + timedelta(minutes=40),
            T + H + timedelta(minutes=20),
            None,
            [(T + timedelta(minutes=40), T + H), (T + H, T + H + timedelta(minutes=20))],
        ),
        (
            T + timedelta(minutes=5),
            T + timedelta(minutes=50),
            None,
            [(T + timedelta(minutes=5), T + timedelta(minutes=50))],
        ),
        (T, T, None, []),
    ],
)
def test_ranges_split_into_whole_hours_and_edges_inside_one_hour(
    since: datetime, until: datetime, whole: tuple | None, edges: list
) -> None:
    got_whole, got_edges = _split(Window(since, until))
    assert (None if got_whole is None else (got_whole.since, got_whole.until)) == whole
    assert [(e.since, e.until) for e in got_edges] == edges
    assert all(hour_of(e.since) == hour_of(e.until - timedelta(microseconds=1)) for e in got_edges)


@pytest.mark.parametrize(
    ("bucket", "start_hour", "ts", "start"),
    [
        (Bucket.HOUR, 6, datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 2, 5, tzinfo=UTC)),
        (Bucket.SHIFT, 6, datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 1, 22, tzinfo=UTC)),
        (Bucket.SHIFT, 6, datetime(2026, 3, 2, 6, tzinfo=UTC), datetime(2026, 3, 2, 6, tzinfo=UTC)),
        (Bucket.DAY, 6, datetime(2026, 3, 2, 23, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_bucket_starts(bucket: Bucket, start_hour: int, ts: datetime, start: datetime) -> None:
    to_bucket = bucketer(bucket, 8, start_hour)
    assert to_bucket(int(ts.timestamp())) == int(start.timestamp())
