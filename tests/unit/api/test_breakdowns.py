"""The overview's tables and chart series from the stats' points (api/web/breakdowns.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.web import breakdowns as bd

H0, H1 = datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 2, 6, tzinfo=UTC)


def rate(
    b: datetime, line: str, station: str, total: int, fail: int, uncertain: int = 0, shift: str = ""
) -> Any:
    return {
        "bucket_start": b,
        "line_id": line,
        "station_id": station,
        "shift": shift,
        "total": total,
        "fail": fail,
        "uncertain": uncertain,
    }


POINTS = [
    rate(H0, "a", "s1", 10, 1, 2, "night"),
    rate(H0, "a", "s2", 10, 3, 0, "night"),
    rate(H1, "a", "s1", 20, 2, 1, "early"),
    rate(H1, "b", "s1", 5, 0, 0, "early"),
]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (lambda p: (p["line_id"],), [(("a",), 40, 6, 3), (("b",), 5, 0, 0)]),
        (
            lambda p: (p["line_id"], p["station_id"]),
            [(("a", "s1"), 30, 3, 3), (("a", "s2"), 10, 3, 0), (("b", "s1"), 5, 0, 0)],
        ),
        (lambda p: (p["shift"],), [(("early",), 25, 2, 1), (("night",), 20, 4, 2)]),
    ],
)
def test_tally(key: Any, expected: list[tuple[Any, ...]]) -> None:
    got = bd.tally(POINTS, key)
    assert [(t.key, t.total, t.fail, t.uncertain) for t in got] == expected
    assert all(t.rate == (t.fail / t.total if t.total else 0.0) for t in got)


def test_shift_order_follows_the_calendar() -> None:
    tallies = [*bd.tally(POINTS, lambda p: (p["shift"],)), bd.Tally(("old",), 1, 0, 0)]
    got = bd.shift_order(tallies, ("early", "late", "night"))
    assert [t.key[0] for t in got] == ["early", "night", "old"]


@pytest.mark.parametrize(("inspected", "per_100"), [(200, [5.0, 0.5]), (0, [None, None])])
def test_class_rows(inspected: int, per_100: list[float | None]) -> None:
    rows = bd.class_rows(
        [{"class_name": "scratch", "count": 10}, {"class_name": "dent", "count": 1}], inspected
    )
    assert [(r.class_name, r.count, r.per_100) for r in rows] == [
        ("scratch", 10, per_100[0]),
        ("dent", 1, per_100[1]),
    ]


def test_series_points_sum_per_bucket_and_series() -> None:
    got = bd.series_points(POINTS, lambda p: p["line_id"])
    assert [(p["bucket_start"], p["line_id"], p["defect_rate"]) for p in got] == [
        (H0, "a", 0.2),
        (H1, "a", 0.1),
        (H1, "b", 0.0),
    ]


def test_class_rate_points_divide_by_the_same_bucket_and_line() -> None:
    classes = [
        {"bucket_start": H0, "line_id": "a", "class_name": "scratch", "count": 5},
        {"bucket_start": H1, "line_id": "b", "class_name": "scratch", "count": 1},
    ]
    got = bd.class_rate_points(classes, POINTS, lambda p: p["line_id"])
    assert [(p["bucket_start"], p["line_id"], p["defect_rate"]) for p in got] == [
        (H0, "a", 0.25),
        (H1, "a", 0.0),
        (H1, "b", 0.2),
    ]
