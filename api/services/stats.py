"""Aggregations for the stats routes and the dashboard: defect rate and class counts per time bucket.

Whole UTC hours are read from the hourly summary tables (kept by the sink); the partial hours at the edges of
a range come from the event tables, so results equal a direct aggregation for any range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.db.models import DetectionRow, HourlyDetectionRow, HourlyInspectionRow, InspectionRow
from api.db.types import UtcDateTime
from api.services.timerange import Bucket, bucket_expr, bucket_seconds, from_epoch

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime
    line_id: str | None = None
    station_id: str | None = None


def _bucket(s: Session, column: Any, bucket: Bucket, shift_hours: int, shift_start_hour: int) -> Any:
    width = bucket_seconds(bucket, shift_hours)
    offset = (shift_start_hour * 3600) % width if bucket is Bucket.SHIFT else 0
    return bucket_expr(column, s.get_bind().dialect.name, width, offset)


def _split(w: Window) -> tuple[Window | None, list[Window]]:
    """The whole hours of ``w`` (None if there are none) and the partial-hour edges around them."""
    first = w.since.replace(minute=0, second=0, microsecond=0)
    if first < w.since:
        first += HOUR
    last = w.until.replace(minute=0, second=0, microsecond=0)
    if first >= last:
        return None, [w] if w.since < w.until else []
    edges = [e for e in (replace(w, until=first), replace(w, since=last)) if e.since < e.until]
    return replace(w, since=first, until=last), edges


def _merge(
    s: Session,
    w: Window,
    summary: Callable[[Session, Window], Any],
    raw: Callable[[Session, Window], Any],
    n_keys: int,
) -> list[tuple[Any, ...]]:
    """Rows ``(*keys, *counts)`` of the summary over whole hours plus the raw edges, summed per key."""
    whole, edges = _split(w)
    parts = ([summary(s, whole)] if whole else []) + [raw(s, e) for e in edges]
    acc: dict[tuple[Any, ...], list[int]] = {}
    for stmt in parts:
        for row in s.execute(stmt):
            key, counts = tuple(row[:n_keys]), row[n_keys:]
            have = acc.get(key)
            if have is None:
                acc[key] = [int(c or 0) for c in counts]
            else:
                for i, c in enumerate(counts):
                    have[i] += int(c or 0)
    return [(*k, *v) for k, v in acc.items()]


def _where(stmt: Any, model: Any, w: Window, time_column: Any) -> Any:
    stmt = stmt.where(time_column >= w.since, time_column < w.until)
    if w.line_id:
        stmt = stmt.where(model.line_id == w.line_id)
    if w.station_id:
        stmt = stmt.where(model.station_id == w.station_id)
    return stmt


def defect_rate(
    s: Session, w: Window, bucket: Bucket, by_station: bool, shift_hours: int, shift_start_hour: int
) -> list[dict[str, Any]]:
    def summary(s: Session, w: Window) -> Any:
        h = HourlyInspectionRow
        b = _bucket(s, h.hour, bucket, shift_hours, shift_start_hour)
        keys: list[Any] = [b, h.line_id] + ([h.station_id] if by_station else [])
        stmt = select(
            *keys,
            func.sum(h.n),
            func.sum(case((h.verdict == "FAIL", h.n), else_=0)),
            func.sum(case((h.verdict == "UNCERTAIN", h.n), else_=0)),
        )
        return _where(stmt, h, w, h.hour).group_by(*keys)

    def raw(s: Session, w: Window) -> Any:
        t = InspectionRow
        b = _bucket(s, t.ts, bucket, shift_hours, shift_start_hour)
        keys: list[Any] = [b, t.line_id] + ([t.station_id] if by_station else [])
        stmt = select(
            *keys,
            func.count(),
            func.sum(case((t.verdict == "FAIL", 1), else_=0)),
            func.sum(case((t.verdict == "UNCERTAIN", 1), else_=0)),
        ).where(t.shadow.is_(False))
        return _where(stmt, t, w, t.ts).group_by(*keys)

    n_keys = 3 if by_station else 2
    out = []
    for row in sorted(_merge(s, w, summary, raw, n_keys)):
        total, fail, uncertain = row[n_keys:]
        out.append(
            {
                "bucket_start": from_epoch(row[0]),
                "line_id": row[1],
                "station_id": row[2] if by_station else None,
                "total": total,
                "fail": fail,
                "uncertain": uncertain,
                "defect_rate": fail / total if total else 0.0,
            }
        )
    return out


def _class_counts(s: Session, w: Window, keys: Callable[[Session, Any], list[Any]]) -> list[tuple[Any, ...]]:
    """Detections of FAIL/UNCERTAIN, non-shadow inspections, per ``keys`` of the detection model."""

    def summary(s: Session, w: Window) -> Any:
        h = HourlyDetectionRow
        k = keys(s, h)
        stmt = select(*k, func.sum(h.n)).where(h.verdict != "PASS")
        return _where(stmt, h, w, h.hour).group_by(*k)

    def raw(s: Session, w: Window) -> Any:
        d = DetectionRow
        k = keys(s, d)
        stmt = select(*k, func.count()).where(d.shadow.is_(False), d.verdict != "PASS")
        return _where(stmt, d, w, d.ts).group_by(*k)

    return _merge(s, w, summary, raw, len(keys(s, DetectionRow)))


def class_counts(
    s: Session, w: Window, bucket: Bucket, shift_hours: int, shift_start_hour: int
) -> list[dict[str, Any]]:
    def keys(s: Session, m: Any) -> list[Any]:
        column = m.hour if m is HourlyDetectionRow else m.ts
        return [_bucket(s, column, bucket, shift_hours, shift_start_hour), m.line_id, m.class_name]

    return [
        {"bucket_start": from_epoch(b), "line_id": line, "class_name": name, "count": n}
        for b, line, name, n in sorted(_class_counts(s, w, keys))
    ]


def top_classes(s: Session, w: Window, limit: int) -> list[dict[str, Any]]:
    rows = _class_counts(s, w, lambda _s, m: [m.class_name])
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [{"class_name": name, "count": n} for name, n in rows[:limit]]


def first_seen(s: Session, line_id: str | None) -> list[dict[str, Any]]:
    """When each class was first (and last) detected on each line, over all stored history."""
    h = HourlyDetectionRow
    first = func.min(h.first_ts)
    stmt = select(
        h.line_id, h.class_name, first.label("first"), func.max(h.last_ts).label("last"), func.sum(h.n)
    ).where(h.verdict != "PASS")
    if line_id:
        stmt = stmt.where(h.line_id == line_id)
    stmt = stmt.group_by(h.line_id, h.class_name).order_by(h.line_id, first, h.class_name)
    return [
        {
            "line_id": r[0],
            "class_name": r[1],
            "first_seen": _dt(r[2]),
            "last_seen": _dt(r[3]),
            "count": int(r[4]),
        }
        for r in s.execute(stmt)
    ]


def known_classes(s: Session, limit: int = 200) -> list[str]:
    """Class names detected so far (for the review page's class choice)."""
    h = HourlyDetectionRow
    return list(s.scalars(select(h.class_name).distinct().order_by(h.class_name).limit(limit)))


def _dt(value: Any) -> datetime:
    result = UtcDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert result is not None
    return result
