"""Inline SVG line chart of defect rate per bucket, one polyline per line (no JavaScript, no CDN)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    color: str
    points: str  # SVG polyline points
    last_rate: float


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    series: list[Series]
    y_max: float
    x_labels: list[tuple[float, str]]


def defect_chart(
    points: list[dict[str, Any]], width: int = 720, height: int = 220, pad: int = 36, tz: tzinfo = UTC
) -> Chart:
    """One series per ``line_id`` of the points (a line, or any series name); times labelled in ``tz``."""
    by_line: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for p in points:
        by_line[p["line_id"]].append((p["bucket_start"], p["defect_rate"]))
    times = sorted({p["bucket_start"] for p in points})
    y_max = max([0.05, *(p["defect_rate"] for p in points)])
    if not times:
        return Chart(width, height, [], y_max, [])
    t0, t1 = times[0].timestamp(), times[-1].timestamp()
    span = max(t1 - t0, 1.0)

    def x(t: datetime) -> float:
        return pad + (t.timestamp() - t0) / span * (width - 2 * pad)

    def y(v: float) -> float:
        return height - pad - v / y_max * (height - 2 * pad)

    series = []
    for i, (line, pts) in enumerate(sorted(by_line.items())):
        pts.sort()
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        series.append(Series(line, PALETTE[i % len(PALETTE)], coords, pts[-1][1]))
    step = max(1, len(times) // 6)
    labels = [(x(t), t.astimezone(tz).strftime("%m-%d %H:%M")) for t in times[::step]]
    return Chart(width, height, series, y_max, labels)
