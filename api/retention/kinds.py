"""The kinds of the API's data and what keeps a row older than its cutoff (docs/operations.md "Retention").

- review queue: unreviewed entries older than the cutoff leave the queue (nothing keeps them);
- reviews (the labels' audit trail; kept forever by default);
- outcomes: an inspection (with its detections) stays while it is queued for review or reviewed (by a queue
  entry or review that stays this run); the hourly summaries are never touched;
- frames: a frame stays while a queue entry or a review that stays this run shows it, or an inspection newer
  than the frames' cutoff has the same JPEG (frames are stored once by sha256);
- heartbeats, agent events: by time;
- alerts: resolved alerts that fired before the cutoff (open ones stay; their deliveries go with them by the
  foreign key's ``ON DELETE CASCADE``);
- rollouts: ``api.retention.rollouts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, or_

from api.alerts.store import RESOLVED
from api.db.models import (
    AgentEventRow,
    AlertRow,
    DetectionRow,
    FrameRow,
    HeartbeatRow,
    InspectionRow,
    ReviewQueueRow,
    ReviewRow,
)
from api.db.upsert import table
from api.retention.policy import Cutoffs, Kind
from api.retention.pruner import Pruner, RowPruner, survives
from api.retention.rollouts import RolloutsPruner

_CHUNK = 500  # keys per IN (...) of a related delete

QUEUE, REV, INSP, DET, FRM = (
    table(m) for m in (ReviewQueueRow, ReviewRow, InspectionRow, DetectionRow, FrameRow)
)


class OutcomesPruner(RowPruner):
    def __init__(self) -> None:
        super().__init__(Kind.OUTCOMES, INSP, "ts", "id")
        self.related_tables = (DET,)

    def needed(self, c: Cutoffs) -> ColumnElement[bool]:
        queued = exists().where(
            QUEUE.c.outcome_event_id == INSP.c.event_id, *survives(QUEUE.c.ts, c.of(Kind.REVIEW_QUEUE))
        )
        reviewed = exists().where(
            REV.c.outcome_event_id == INSP.c.event_id, *survives(REV.c.ts, c.of(Kind.REVIEWS))
        )
        return or_(queued, reviewed)

    def related_rows(self) -> ColumnElement[Any]:
        return INSP.c.n_detections

    def returning(self) -> list[Any]:
        return [INSP.c.id, INSP.c.n_detections, INSP.c.event_id]

    def after_delete(self, conn: Connection, gone: Sequence[Any]) -> None:
        event_ids = [r[2] for r in gone if r[1]]
        for i in range(0, len(event_ids), _CHUNK):
            conn.execute(delete(DET).where(DET.c.outcome_event_id.in_(event_ids[i : i + _CHUNK])))


class FramesPruner(RowPruner):
    def __init__(self) -> None:
        super().__init__(Kind.FRAMES, FRM, "received_at", "sha256")

    def needed(self, c: Cutoffs) -> ColumnElement[bool]:
        queued = exists().where(
            QUEUE.c.frame_sha256 == FRM.c.sha256, *survives(QUEUE.c.ts, c.of(Kind.REVIEW_QUEUE))
        )
        reviewed = exists().where(REV.c.frame_sha256 == FRM.c.sha256, *survives(REV.c.ts, c.of(Kind.REVIEWS)))
        newer = exists().where(INSP.c.frame_sha256 == FRM.c.sha256, INSP.c.ts >= c.of(Kind.FRAMES))
        return or_(queued, reviewed, newer)

    def file_bytes(self) -> ColumnElement[Any]:
        return FRM.c.size_bytes

    def frames_of(self, gone: Sequence[Any]) -> tuple[str, ...]:
        return tuple(r[0] for r in gone)


class AlertsPruner(RowPruner):
    def __init__(self) -> None:
        super().__init__(Kind.ALERTS, table(AlertRow), "fired_at", "id")

    def needed(self, c: Cutoffs) -> ColumnElement[bool]:
        a = self.table.c
        return or_(a.state != RESOLVED, a.resolved_at.is_(None), a.resolved_at >= c.of(Kind.ALERTS))


def pruners() -> list[Pruner]:
    """Every kind, in :class:`Kind` order (the registry of the run)."""
    made: list[Pruner] = [
        RowPruner(Kind.REVIEW_QUEUE, QUEUE, "ts", "outcome_event_id"),
        RowPruner(Kind.REVIEWS, REV, "ts", "id"),
        OutcomesPruner(),
        FramesPruner(),
        RowPruner(Kind.HEARTBEATS, table(HeartbeatRow), "ts", "id"),
        RowPruner(Kind.AGENT_EVENTS, table(AgentEventRow), "ts", "id"),
        AlertsPruner(),
        RolloutsPruner(),
    ]
    assert [p.kind for p in made] == list(Kind), "one pruner per kind, in Kind order"
    return made
