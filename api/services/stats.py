"""Aggregations for the stats routes and the dashboard: defect rate and class counts per time bucket.

Whole UTC hours are read from the hourly summary tables (kept by the sink); the partial hours at the edges of
a range come from the event tables, so results equal a direct aggregation for any range. Shift and day buckets
follow the site's shift calendar (``api.services.shifts``); a shift filter reads each of its shifts in the
range as a range of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, case, func, select, type_coerce
from sqlalchemy.orm import Session

from api.db.models import (
    ClassSightingRow,
    DetectionRow,
    HourlyDetectionRow,
    HourlyInspectionRow,
    InspectionRow,
)
from api.errors import InvalidRequestError
from api.services.shifts import ShiftCalendar
from api.services.timerange import Bucket, from_epoch
from factoryloop.products import Product

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime
    line_id: str | None = None
    station_id: str | None = None
    shift: str | None = None  # only the hours of this shift of the calendar
    product: str | None = None
    class_name: str | None = None  # detections only


DEFAULT_CALENDAR = ShiftCalendar.uniform(8, 6)

Bucketer = Callable[[int], int]  # epoch seconds of an hour -> start of its bucket


def bucketer(
    bucket: Bucket, shift_hours: int = 8, shift_start_hour: int = 6, *, calendar: ShiftCalendar | None = None
) -> Bucketer:
    """The start of the hour, shift or (site) day of a time: unions of UTC hours. Without ``calendar``,
    shifts of ``shift_hours`` from ``shift_start_hour`` UTC."""
    cal = calendar or ShiftCalendar.uniform(shift_hours, shift_start_hour)
    if bucket is Bucket.HOUR:
        return lambda t: t // 3600 * 3600
    return cal.shift_start if bucket is Bucket.SHIFT else cal.day_start


def parts(w: Window, calendar: ShiftCalendar | None) -> list[Window]:
    """``w`` itself, or with a shift filter each of that shift's times in ``w`` (422 for an unknown shift)."""
    if not w.shift:
        return [w]
    cal = calendar or DEFAULT_CALENDAR
    if w.shift not in cal.names:
        raise InvalidRequestError(f"no shift {w.shift!r} in the site's calendar: {', '.join(cal.names)}")
    return [
        replace(w, since=max(w.since, i.start), until=min(w.until, i.end))
        for i in cal.instances(w.since, w.until)
        if i.name == w.shift
    ]


def _epoch(value: Any) -> int:
    """Epoch seconds of a stored hour: SQLite text, or a naive (UTC) / aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _split(w: Window) -> tuple[Window | None, list[Window]]:
    """The whole hours of ``w`` (None if there are none) and the partial-hour edges around them."""
    first = w.since.replace(minute=0, second=0, microsecond=0)
    if first < w.since:
        first += HOUR
    last = w.until.replace(minute=0, second=0, microsecond=0)
    if first > last or w.since >= w.until:  # inside one hour
        return None, [w] if w.since < w.until else []
    if first == last:  # no whole hour, one hour boundary inside
        return None, [e for e in (replace(w, until=first), replace(w, since=first)) if e.since < e.until]
    edges = [e for e in (replace(w, until=first), replace(w, since=last)) if e.since < e.until]
    return replace(w, since=first, until=last), edges


def _merge(
    s: Session,
    windows: list[Window],
    summary: Callable[[Window], Any],
    raw: Callable[[Window], Any],
    n_keys: int,
    bucket_of: Bucketer | None,
) -> list[tuple[Any, ...]]:
    """Rows ``([bucket], *keys, *counts)`` summed per key over ``windows``: the summary's whole hours (its
    statement leads with the hour when ``bucket_of`` is given) plus the raw edges. Each edge lies inside one
    hour, hence one bucket, so neither query computes buckets per row (SQLite's strftime is the slow part of
    a GROUP BY)."""
    acc: dict[tuple[Any, ...], list[int]] = {}

    def add(key: tuple[Any, ...], counts: Any) -> None:
        have = acc.get(key)
        if have is None:
            acc[key] = [int(c or 0) for c in counts]
        else:
            for i, c in enumerate(counts):
                have[i] += int(c or 0)

    lead = 0 if bucket_of is None else 1
    buckets: dict[Any, int] = {}
    for w in windows:
        whole, edges = _split(w)
        if whole is not None:
            for row in s.execute(summary(whole)):
                prefix: tuple[Any, ...] = ()
                if bucket_of is not None:
                    b = buckets.get(row[0])
                    if b is None:
                        b = buckets[row[0]] = bucket_of(_epoch(row[0]))
                    prefix = (b,)
                add((*prefix, *row[lead : lead + n_keys]), row[lead + n_keys :])
        for edge in edges:
            prefix = () if bucket_of is None else (bucket_of(int(edge.since.timestamp())),)
            for row in s.execute(raw(edge)):
                add((*prefix, *row[:n_keys]), row[n_keys:])
    return [(*k, *v) for k, v in acc.items()]


def _where(stmt: Any, model: Any, w: Window, time_column: Any) -> Any:
    stmt = stmt.where(time_column >= w.since, time_column < w.until)
    if w.line_id:
        stmt = stmt.where(model.line_id == w.line_id)
    if w.station_id:
        stmt = stmt.where(model.station_id == w.station_id)
    if w.product and hasattr(model, "product"):  # the raw detections join their inspection instead
        stmt = stmt.where(model.product == w.product)
    if w.class_name and hasattr(model, "class_name"):
        stmt = stmt.where(model.class_name == w.class_name)
    return stmt


def _hour(column: Any) -> Any:
    """The stored hour without per-row datetime parsing (parsed once per distinct hour in ``_merge``)."""
    return type_coerce(column, String)


def defect_rate(
    s: Session,
    w: Window,
    bucket: Bucket,
    by_station: bool,
    shift_hours: int = 8,
    shift_start_hour: int = 6,
    *,
    calendar: ShiftCalendar | None = None,
) -> list[dict[str, Any]]:
    """Per bucket and line (and station): total, FAIL, UNCERTAIN and FAIL / total; ``shift`` names the
    shift of a shift bucket."""
    h, t = HourlyInspectionRow, InspectionRow
    cal = calendar or ShiftCalendar.uniform(shift_hours, shift_start_hour)

    def summary(w: Window) -> Any:
        keys: list[Any] = [h.line_id] + ([h.station_id] if by_station else [])
        stmt = select(
            _hour(h.hour),
            *keys,
            func.sum(h.n),
            func.sum(case((h.verdict == "FAIL", h.n), else_=0)),
            func.sum(case((h.verdict == "UNCERTAIN", h.n), else_=0)),
        )
        return _where(stmt, h, w, h.hour).group_by(h.hour, *keys)

    def raw(w: Window) -> Any:
        keys: list[Any] = [t.line_id] + ([t.station_id] if by_station else [])
        stmt = select(
            *keys,
            func.count(),
            func.sum(case((t.verdict == "FAIL", 1), else_=0)),
            func.sum(case((t.verdict == "UNCERTAIN", 1), else_=0)),
        ).where(t.shadow.is_(False))
        return _where(stmt, t, w, t.ts).group_by(*keys)

    n_keys = 2 if by_station else 1
    rows = _merge(s, parts(w, cal), summary, raw, n_keys, bucketer(bucket, calendar=cal))
    out = []
    for row in sorted(rows):
        total, fail, uncertain = row[n_keys + 1 :]
        out.append(
            {
                "bucket_start": from_epoch(row[0]),
                "shift": cal.name_of(row[0]) if bucket is Bucket.SHIFT else None,
                "line_id": row[1],
                "station_id": row[2] if by_station else None,
                "total": total,
                "fail": fail,
                "uncertain": uncertain,
                "defect_rate": fail / total if total else 0.0,
            }
        )
    return out


def _class_counts(
    s: Session,
    w: Window,
    keys: Callable[[Any], list[Any]],
    bucket_of: Bucketer | None,
    calendar: ShiftCalendar | None,
) -> list[tuple[Any, ...]]:
    """Detections of FAIL/UNCERTAIN, non-shadow inspections, per ``keys`` of the detection model."""
    h, d = HourlyDetectionRow, DetectionRow

    def summary(w: Window) -> Any:
        hour = [_hour(h.hour)] if bucket_of is not None else []
        stmt = select(*hour, *keys(h), func.sum(h.n)).where(h.verdict != "PASS")
        return _where(stmt, h, w, h.hour).group_by(*([h.hour] if hour else []), *keys(h))

    def raw(w: Window) -> Any:
        stmt = select(*keys(d), func.count()).where(d.shadow.is_(False), d.verdict != "PASS")
        if w.product:
            i = InspectionRow
            stmt = stmt.join(i, i.event_id == d.outcome_event_id).where(i.product == w.product)
        return _where(stmt, d, w, d.ts).group_by(*keys(d))

    return _merge(s, parts(w, calendar), summary, raw, len(keys(d)), bucket_of)


def class_counts(
    s: Session,
    w: Window,
    bucket: Bucket,
    shift_hours: int = 8,
    shift_start_hour: int = 6,
    *,
    calendar: ShiftCalendar | None = None,
) -> list[dict[str, Any]]:
    cal = calendar or ShiftCalendar.uniform(shift_hours, shift_start_hour)
    rows = _class_counts(s, w, lambda m: [m.line_id, m.class_name], bucketer(bucket, calendar=cal), cal)
    return [
        {
            "bucket_start": from_epoch(b),
            "shift": cal.name_of(b) if bucket is Bucket.SHIFT else None,
            "line_id": line,
            "class_name": name,
            "count": n,
        }
        for b, line, name, n in sorted(rows)
    ]


def top_classes(
    s: Session, w: Window, limit: int, calendar: ShiftCalendar | None = None
) -> list[dict[str, Any]]:
    rows = _class_counts(s, w, lambda m: [m.class_name], None, calendar)
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [{"class_name": name, "count": n} for name, n in rows[:limit]]


def first_seen(s: Session, line_id: str | None) -> list[dict[str, Any]]:
    """When each class was first (and last) detected on each line, over all stored history."""
    c = ClassSightingRow
    stmt = select(c.line_id, c.class_name, c.first_ts, c.last_ts, c.n)
    if line_id:
        stmt = stmt.where(c.line_id == line_id)
    stmt = stmt.order_by(c.line_id, c.first_ts, c.class_name)
    return [
        {"line_id": r[0], "class_name": r[1], "first_seen": r[2], "last_seen": r[3], "count": int(r[4])}
        for r in s.execute(stmt)
    ]


def known_classes(s: Session, class_map: Product | None = None, limit: int = 200) -> list[str]:
    """The class names to choose from (the review page): with a product's class map its active classes in
    id order (the map is the truth: nothing is read); otherwise the class names detected so far, sorted."""
    if class_map is not None:
        return list(class_map.active_class_names[:limit])
    c = ClassSightingRow
    return list(s.scalars(select(c.class_name).distinct().order_by(c.class_name).limit(limit)))
