"""Inline SVG charts of one agent's history (its page, ``/ui/fleet/{agent_id}``): the whole window on the x
axis, so an agent that sent nothing shows as a gap (a line is broken where buckets are missing), one colour
per figure, the y axis from 0 to the largest value. No JavaScript, no CDN."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from api.web.chart import PALETTE

PAD = 36


@dataclass(frozen=True, slots=True)
class Plot:
    name: str
    color: str
    segments: tuple[str, ...]  # SVG polyline points, one per run of consecutive buckets
    dots: tuple[tuple[float, float], ...]  # lone buckets, drawn as dots
    last: str  # the last value, formatted


@dataclass(frozen=True, slots=True)
class HistoryChart:
    id: str
    title: str
    width: int
    height: int
    plots: tuple[Plot, ...]
    y_top: str  # the top of the y axis, formatted
    x_labels: tuple[tuple[float, str], ...]


def history_chart(
    chart_id: str,
    title: str,
    series: Mapping[str, Sequence[tuple[datetime, float | None]]],
    since: datetime,
    until: datetime,
    bucket_s: int,
    fmt: Callable[[float], str],
    *,
    tz: tzinfo,
    width: int = 560,
    height: int = 170,
) -> HistoryChart:
    """``series``: name -> (bucket start, value or None) oldest first; ``fmt`` formats a value for people."""
    values = [v for pts in series.values() for _, v in pts if v is not None]
    top = max([*values, 0.0]) or 1.0
    t0, span = since.timestamp(), max((until - since).total_seconds(), 1.0)

    def x(t: datetime) -> float:
        return PAD + (t.timestamp() + bucket_s / 2 - t0) / span * (width - 2 * PAD)

    def y(v: float) -> float:
        return height - PAD - v / top * (height - 2 * PAD)

    plots = []
    for i, (name, points) in enumerate(series.items()):
        runs: list[list[tuple[datetime, float]]] = []
        previous: datetime | None = None
        for t, v in points:
            if v is None:
                previous = None
                continue
            if previous is None or t - previous > timedelta(seconds=1.5 * bucket_s):
                runs.append([])
            runs[-1].append((t, v))
            previous = t
        lines = tuple(" ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run) for run in runs if len(run) > 1)
        dots = tuple((x(run[0][0]), y(run[0][1])) for run in runs if len(run) == 1)
        last = next((fmt(v) for _, v in reversed(points) if v is not None), "-")
        plots.append(Plot(name, PALETTE[i % len(PALETTE)], lines, dots, last))
    ticks = 6
    labels = tuple(
        (
            PAD + k / ticks * (width - 2 * PAD),
            (since + (until - since) * k / ticks).astimezone(tz).strftime("%m-%d %H:%M"),
        )
        for k in range(ticks + 1)
    )
    return HistoryChart(chart_id, title, width, height, tuple(plots), fmt(top), labels)
