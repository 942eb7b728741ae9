"""Inspection queries shared by the API routes and the dashboard pages (parameterised SQLAlchemy only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from api.db.models import DetectionRow, FrameRow, InspectionRow, ReviewRow
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

    def conditions(self) -> list[Any]:
        t = InspectionRow
        conds: list[Any] = []
        for column, value in (
            (t.line_id, self.line_id),
            (t.station_id, self.station_id),
            (t.product, self.product),
            (t.verdict, self.verdict),
            (t.model_version, self.model_version),
        ):
            if value is not None:
                conds.append(column == value)
        if self.since is not None:
            conds.append(t.ts >= self.since)
        if self.until is not None:
            conds.append(t.ts < self.until)
        if not self.include_shadow:
            conds.append(t.shadow.is_(False))
        if self.class_name is not None:
            conds.append(
                exists().where(
                    DetectionRow.outcome_event_id == t.event_id, DetectionRow.class_name == self.class_name
                )
            )
        return conds


def list_inspections(
    s: Session, flt: InspectionFilter, limit: int, cursor: str | None, newest_first: bool = True
) -> tuple[list[InspectionRow], str | None]:
    t = InspectionRow
    stmt = select(t).where(*flt.conditions())
    if cursor:
        ts, row_id = decode_cursor(cursor)
        if newest_first:
            stmt = stmt.where(or_(t.ts < ts, and_(t.ts == ts, t.id < row_id)))
        else:
            stmt = stmt.where(or_(t.ts > ts, and_(t.ts == ts, t.id > row_id)))
    order = (t.ts.desc(), t.id.desc()) if newest_first else (t.ts.asc(), t.id.asc())
    rows = list(s.scalars(stmt.order_by(*order).limit(limit + 1)))
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


def detections_of(s: Session, event_ids: list[str]) -> dict[str, list[DetectionRow]]:
    out: dict[str, list[DetectionRow]] = {e: [] for e in event_ids}
    if not event_ids:
        return out
    stmt = (
        select(DetectionRow)
        .where(DetectionRow.outcome_event_id.in_(event_ids))
        .order_by(DetectionRow.outcome_event_id, DetectionRow.idx)
    )
    for d in s.scalars(stmt):
        out[d.outcome_event_id].append(d)
    return out


def reviews_of(s: Session, event_id: str) -> list[ReviewRow]:
    stmt = (
        select(ReviewRow).where(ReviewRow.outcome_event_id == event_id).order_by(ReviewRow.ts, ReviewRow.id)
    )
    return list(s.scalars(stmt))


def frame_stored(s: Session, sha256: str) -> bool:
    return s.scalar(select(FrameRow.sha256).where(FrameRow.sha256 == sha256)) is not None


def review_queue(s: Session, line_id: str | None, limit: int) -> list[InspectionRow]:
    """UNCERTAIN and sampled inspections whose frame is stored and that nobody reviewed yet, oldest first."""
    t = InspectionRow
    stmt = select(t).where(
        t.shadow.is_(False),
        or_(t.verdict == "UNCERTAIN", t.sample_reason.is_not(None)),
        exists().where(FrameRow.sha256 == t.frame_sha256),
        ~exists().where(ReviewRow.outcome_event_id == t.event_id),
    )
    if line_id is not None:
        stmt = stmt.where(t.line_id == line_id)
    return list(s.scalars(stmt.order_by(t.ts.asc(), t.id.asc()).limit(limit)))
