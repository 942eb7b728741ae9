"""Inspection queries shared by the API routes and the dashboard pages (parameterised SQLAlchemy only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, exists, or_, select
from sqlalchemy.orm import Session, aliased

from api.db.models import DetectionRow, FrameRow, InspectionRow, ReviewRow
from api.db.upsert import table
from api.errors import NotFoundError
from api.services.cursor import decode_cursor, encode_cursor


@dataclass(frozen=True, slots=True)
class InspectionFilter:
    line_id: str | None = None
    station_id: str | None = None
    product: str | None = None
    class_name: str | None = None
    verdict: str | None = None
    model_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_shadow: bool = False

    def conditions(self, by: Any = InspectionRow) -> list[Any]:
        """Conditions of everything but ``class_name``; line, station, verdict, shadow and time go on ``by``
        (the inspections, or the detections that carry copies of those columns)."""
        t = InspectionRow
        conds: list[Any] = []
        for column, value in (
            (by.line_id, self.line_id),
            (by.station_id, self.station_id),
            (t.product, self.product),
            (by.verdict, self.verdict),
            (t.model_version, self.model_version),
        ):
            if value is not None:
                conds.append(column == value)
        if self.since is not None:
            conds.append(by.ts >= self.since)
        if self.until is not None:
            conds.append(by.ts < self.until)
        if not self.include_shadow:
            conds.append(by.shadow.is_(False))
        return conds


# What a list shows (the route's InspectionOut): no JSON or timing columns to decode per row.
LIST_FIELDS = [
    "id",
    "event_id",
    "ts",
    "captured_at",
    "line_id",
    "station_id",
    "agent_id",
    "frame_id",
    "item_id",
    "product",
    "verdict",
    "model_name",
    "model_version",
    "frame_sha256",
    "frame_sent",
    "sample_reason",
    "shadow",
    "n_detections",
    "frame_width",
    "frame_height",
]
COLUMNS = tuple(table(InspectionRow).c[name] for name in LIST_FIELDS)
DETECTION_COLUMNS = tuple(table(DetectionRow).c)


def _filtered(flt: InspectionFilter) -> tuple[Any, Any]:
    """The statement and its time column. With ``class_name`` the query walks the detections of that class
    (index ``(class_name, ts)`` / ``(line_id, class_name, ts)``), each inspection once (its first box of the
    class), instead of probing the detections of every inspection."""
    t = InspectionRow
    if flt.class_name is None:
        return select(*COLUMNS).where(*flt.conditions()), t.ts
    d, d2 = DetectionRow, aliased(DetectionRow)
    first_box = ~exists().where(
        d2.outcome_event_id == d.outcome_event_id, d2.class_name == d.class_name, d2.idx < d.idx
    )
    stmt = (
        select(*COLUMNS)
        .select_from(d)
        .join(t, t.event_id == d.outcome_event_id)
        .where(d.class_name == flt.class_name, first_box, *flt.conditions(by=d))
    )
    return stmt, d.ts


def list_inspections(
    s: Session, flt: InspectionFilter, limit: int, cursor: str | None, newest_first: bool = True
) -> tuple[list[Row[Any]], str | None]:
    """A page of inspections ordered by ``(ts, id)``; the cursor is a keyset bound, so every page is an index
    range (``ts <= bound`` lets the planner seek instead of skipping newer rows)."""
    t = InspectionRow
    stmt, ts_col = _filtered(flt)
    if cursor:
        ts, row_id = decode_cursor(cursor)
        if newest_first:
            stmt = stmt.where(ts_col <= ts, or_(ts_col < ts, t.id < row_id))
        else:
            stmt = stmt.where(ts_col >= ts, or_(ts_col > ts, t.id > row_id))
    order = (ts_col.desc(), t.id.desc()) if newest_first else (ts_col.asc(), t.id.asc())
    rows = list(s.execute(stmt.order_by(*order).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].ts, rows[-1].id)
    return rows, next_cursor


def get_inspection(s: Session, event_id: str) -> InspectionRow:
    row = s.scalars(select(InspectionRow).where(InspectionRow.event_id == event_id)).first()
    if row is None:
        raise NotFoundError(f"no inspection with event id {event_id!r}")
    return row


def detections_of(s: Session, event_ids: list[str]) -> dict[str, list[Any]]:
    """Detections (rows with the DetectionRow attributes) of each event id, in box order, in one query."""
    out: dict[str, list[Any]] = {e: [] for e in event_ids}
    if not event_ids:
        return out
    stmt = (
        select(*DETECTION_COLUMNS)
        .where(DetectionRow.outcome_event_id.in_(event_ids))
        .order_by(DetectionRow.outcome_event_id, DetectionRow.idx)
    )
    for d in s.execute(stmt):
        out[d.outcome_event_id].append(d)
    return out


def reviews_of(s: Session, event_id: str) -> list[ReviewRow]:
    stmt = (
        select(ReviewRow).where(ReviewRow.outcome_event_id == event_id).order_by(ReviewRow.ts, ReviewRow.id)
    )
    return list(s.scalars(stmt))


def frame_stored(s: Session, sha256: str) -> bool:
    return s.scalar(select(FrameRow.sha256).where(FrameRow.sha256 == sha256)) is not None
