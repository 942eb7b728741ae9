"""The agent page's pieces without a database: bucket sizes, counters across a restart, charts that break
where the agent was silent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.services.agent_history import _increase, bucket_seconds
from api.web.history_chart import history_chart

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(("hours", "size"), [(1, 60), (6, 300), (24, 900), (168, 7200)])
def test_bucket_sizes_give_at_most_120_buckets(hours: int, size: int) -> None:
    assert bucket_seconds(timedelta(hours=hours)) == size


@pytest.mark.parametrize(
    ("previous", "current", "increase"),
    [(None, 7, 0), (5, 9, 4), (9, 2, 2), (9, None, None), (4, 4, 0)],
    ids=["first", "counted", "restarted", "not-reported", "nothing"],
)
def test_a_counter_turned_into_what_happened(
    previous: int | None, current: int | None, increase: int | None
) -> None:
    assert _increase(previous, current) == increase


def test_a_silent_stretch_breaks_the_line() -> None:
    at = [T0 + timedelta(minutes=m) for m in (0, 1, 2, 10, 20, 21)]
    values: list[float | None] = [1.0, 2.0, 4.0, 3.0, None, 2.0]
    chart = history_chart(
        "c", "t", {"a": list(zip(at, values, strict=True))}, T0, T0 + timedelta(minutes=30), 60, str, tz=UTC
    )
    (plot,) = chart.plots
    assert len(plot.segments) == 1 and len(plot.segments[0].split()) == 3  # minutes 0-2
    assert len(plot.dots) == 2  # minute 10 alone; minute 21 alone (20 reported nothing)
    assert chart.y_top == "4.0" and plot.last == "2.0"
    assert chart.x_labels[0][1] == "12-01 00:00" and len(chart.x_labels) == 7


def test_nothing_to_draw() -> None:
    chart = history_chart("c", "t", {"a": []}, T0, T0 + timedelta(hours=1), 60, str, tz=UTC)
    assert chart.plots[0].segments == () and chart.plots[0].last == "-" and chart.y_top == "1.0"
