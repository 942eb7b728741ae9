"""Aggregations for the stats routes and the dashboard: defect rate and class counts per time bucket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.db.models import DetectionRow, InspectionRow
from api.db.types import UtcDateTime
from api.services.timerange import Bucket, bucket_expr, bucket_seconds, from_epoch


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


def defect_rate(
    s: Session, w: Window, bucket: Bucket, by_station: bool, shift_hours: int, shift_start_hour: int
) -> list[dict[str, Any]]:
    t = InspectionRow
    b = _bucket(s, t.ts, bucket, shift_hours, shift_start_hour).label("b")
    keys: list[Any] = [b, t.line_id] + ([t.station_id] if by_station else [])
    stmt = select(
        *keys,
        func.count().label("total"),
        func.sum(case((t.verdict == "FAIL", 1), else_=0)).label("fail"),
        func.sum(case((t.verdict == "UNCERTAIN", 1), else_=0)).label("uncertain"),
    ).where(t.ts >= w.since, t.ts < w.until, t.shadow.is_(False))
    if w.line_id:
        stmt = stmt.where(t.line_id == w.line_id)
    if w.station_id:
        stmt = stmt.where(t.station_id == w.station_id)
    stmt = stmt.group_by(*keys).order_by(*keys)
    out = []
    for row in s.execute(stmt):
        total, fail = int(row.total), int(row.fail or 0)
        out.append(
            {
                "bucket_start": from_epoch(row.b),
                "line_id": row.line_id,
                "station_id": row.station_id if by_station else None,
                "total": total,
                "fail": fail,
                "uncertain": int(row.uncertain or 0),
                "defect_rate": fail / total if total else 0.0,
            }
        )
    return out


def _detections(w: Window) -> Any:
    d = DetectionRow
    conds = [d.ts >= w.since, d.ts < w.until, d.shadow.is_(False), d.verdict != "PASS"]
    if w.line_id:
        conds.append(d.line_id == w.line_id)
    if w.station_id:
        conds.append(d.station_id == w.station_id)
    return conds


def class_counts(
    s: Session, w: Window, bucket: Bucket, shift_hours: int, shift_start_hour: int
) -> list[dict[str, Any]]:
    d = DetectionRow
    b = _bucket(s, d.ts, bucket, shift_hours, shift_start_hour).label("b")
    stmt = (
        select(b, d.line_id, d.class_name, func.count().label("n"))
        .where(*_detections(w))
        .group_by(b, d.line_id, d.class_name)
        .order_by(b, d.line_id, d.class_name)
    )
    return [
        {"bucket_start": from_epoch(r.b), "line_id": r.line_id, "class_name": r.class_name, "count": int(r.n)}
        for r in s.execute(stmt)
    ]


def top_classes(s: Session, w: Window, limit: int) -> list[dict[str, Any]]:
    d = DetectionRow
    n = func.count().label("n")
    stmt = (
        select(d.class_name, n).where(*_detections(w)).group_by(d.class_name).order_by(n.desc(), d.class_name)
    )
    return [{"class_name": r.class_name, "count": int(r.n)} for r in s.execute(stmt.limit(limit))]


def first_seen(s: Session, line_id: str | None) -> list[dict[str, Any]]:
    """When each class was first (and last) detected on each line, over all stored history."""
    d = DetectionRow
    stmt = select(
        d.line_id,
        d.class_name,
        func.min(d.ts).label("first"),
        func.max(d.ts).label("last"),
        func.count().label("n"),
    ).where(d.shadow.is_(False), d.verdict != "PASS")
    if line_id:
        stmt = stmt.where(d.line_id == line_id)
    stmt = stmt.group_by(d.line_id, d.class_name).order_by(d.line_id, func.min(d.ts))
    out = []
    for r in s.execute(stmt):
        out.append(
            {
                "line_id": r.line_id,
                "class_name": r.class_name,
                "first_seen": _dt(r.first),
                "last_seen": _dt(r.last),
                "count": int(r.n),
            }
        )
    return out


def _dt(value: Any) -> datetime:
    result = UtcDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    assert result is not None
    return result
