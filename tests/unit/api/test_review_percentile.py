"""Time per review as the review stats and the review page report it: median and nearest-rank p90."""

from __future__ import annotations

import pytest

from api.services.review_stats import percentile, time_summary


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 90, None),
        ([7], 90, 7),
        ([7], 50, 7),
        ([3, 1, 2], 90, 3),  # ceil(2.7) = 3rd smallest
        (list(range(1, 11)), 90, 9),  # exactly 90 % at or below 9
        (list(range(1, 12)), 90, 10),  # ceil(9.9) = 10th
        (list(range(1, 11)), 100, 10),
        (list(range(1, 11)), 10, 1),
        ([5, 5, 5, 100], 90, 100),
    ],
)
def test_percentile_nearest_rank(values: list[int], q: float, expected: int | None) -> None:
    assert percentile(values, q) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        ([], {"timed": 0, "median_s": None, "p90_s": None}),
        ([2500], {"timed": 1, "median_s": 2.5, "p90_s": 2.5}),
        ([2500, 4100], {"timed": 2, "median_s": 3.3, "p90_s": 4.1}),
        ([1000] * 9 + [60_000], {"timed": 10, "median_s": 1.0, "p90_s": 1.0}),  # one slow review of ten
        ([1000] * 8 + [60_000] * 2, {"timed": 10, "median_s": 1.0, "p90_s": 60.0}),
    ],
)
def test_time_summary(ms: list[int], expected: dict[str, object]) -> None:
    assert time_summary(ms) == expected
