"""The overview's tables and chart series from the stats' points: totals per line, station or shift, classes
per 100 inspections, and rates per bucket and series (pure functions of the stats' rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Point = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Tally:
    key: tuple[str, ...]
    total: int
    fail: int
    uncertain: int

    @property
    def rate(self) -> float:
        return self.fail / self.total if self.total else 0.0

    @property
    def name(self) -> str:
        return "/".join(self.key)


@dataclass(frozen=True, slots=True)
class ClassRow:
    class_name: str
    count: int
    per_100: float | None  # boxes per 100 inspections of the same filters; None without inspections


def tally(points: Iterable[Point], key: Callable[[Point], tuple[str, ...]]) -> list[Tally]:
    """Total, FAIL and UNCERTAIN summed per ``key`` of the defect-rate points, sorted by key."""
    acc: dict[tuple[str, ...], list[int]] = {}
    for p in points:
        t = acc.setdefault(key(p), [0, 0, 0])
        t[0] += p["total"]
        t[1] += p["fail"]
        t[2] += p["uncertain"]
    return [Tally(k, *v) for k, v in sorted(acc.items())]


def shift_order(tallies: list[Tally], names: tuple[str, ...]) -> list[Tally]:
    """Per-shift tallies in the calendar's order (a shift the calendar no longer has goes last)."""
    rank = {n: i for i, n in enumerate(names)}
    return sorted(tallies, key=lambda t: (rank.get(t.key[0], len(rank)), t.key))


def class_rows(top: Iterable[Point], inspected: int) -> list[ClassRow]:
    def per_100(n: int) -> float | None:
        return 100 * n / inspected if inspected else None

    return [ClassRow(c["class_name"], c["count"], per_100(c["count"])) for c in top]


def series_points(points: Iterable[Point], series: Callable[[Point], str]) -> list[Point]:
    """Defect rate per bucket and series (``line_id`` holds the series' name, as the chart reads it)."""
    acc: dict[tuple[datetime, str], list[int]] = {}
    for p in points:
        t = acc.setdefault((p["bucket_start"], series(p)), [0, 0])
        t[0] += p["total"]
        t[1] += p["fail"]
    return [
        {"bucket_start": b, "line_id": name, "defect_rate": fail / total if total else 0.0}
        for (b, name), (total, fail) in sorted(acc.items())
    ]


def class_rate_points(
    class_points: Iterable[Point], rate_points: Iterable[Point], series: Callable[[Point], str]
) -> list[Point]:
    """Boxes of one class per inspection, per bucket and series: the class points' counts over the
    inspections of the same bucket and series (a bucket without inspections is left out)."""
    totals: dict[tuple[datetime, str], int] = {}
    for p in rate_points:
        key = (p["bucket_start"], series(p))
        totals[key] = totals.get(key, 0) + p["total"]
    counts: dict[tuple[datetime, str], int] = {}
    for c in class_points:
        key = (c["bucket_start"], series(c))
        counts[key] = counts.get(key, 0) + c["count"]
    return [
        {"bucket_start": b, "line_id": name, "defect_rate": counts.get((b, name), 0) / total}
        for (b, name), total in sorted(totals.items())
        if total
    ]
