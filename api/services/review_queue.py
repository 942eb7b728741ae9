"""The review queue as the API and the review page list it: the ``review_queue`` rows (kept by the sink) whose
frame is stored, by priority (default), newest or oldest first.

The ordered, limited walk runs on the queue table alone, along one of its indexes (``(rank, ts, id)``,
``(line_id, rank, ts, id)``, ``(ts, id)``, ``(line_id, ts, id)``), in a subquery; only the page's rows are
then joined to their inspections (by the unique ``event_id``). The frame check is a primary-key probe per
row walked."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, select
from sqlalchemy.orm import Session

from api.db.models import FrameRow, ReviewQueueRow, ReviewRow
from api.db.upsert import dialect_insert, table
from api.services.inspections import COLUMNS
from api.sink.queue import take_reviewed


class QueueOrder(StrEnum):
    PRIORITY = "priority"  # highest priority first (with the recency term)
    NEWEST = "newest"
    OLDEST = "oldest"  # the order before priorities


QUEUE_FIELDS = ("priority", "reason", "uncertainty", "rarity", "disagreement")


def review_queue(
    s: Session, line_id: str | None, limit: int, order: QueueOrder = QueueOrder.PRIORITY
) -> list[Row[Any]]:
    """Queued inspections with a stored frame: the inspection list columns plus ``priority``, ``reason``
    (stored; may be empty), ``uncertainty``, ``rarity``, ``disagreement``."""
    q = table(ReviewQueueRow)
    keys = {
        QueueOrder.PRIORITY: (q.c.rank.desc(), q.c.ts.desc(), q.c.outcome_event_id.desc()),
        QueueOrder.NEWEST: (q.c.ts.desc(), q.c.outcome_event_id.desc()),
        QueueOrder.OLDEST: (q.c.ts.asc(), q.c.outcome_event_id.asc()),
    }[order]
    page = select(q.c.outcome_event_id, q.c.rank, *(q.c[f] for f in QUEUE_FIELDS)).where(
        exists().where(FrameRow.sha256 == q.c.frame_sha256)
    )
    if line_id is not None:
        page = page.where(q.c.line_id == line_id)
    sub = page.order_by(*keys).limit(limit).subquery()
    i = COLUMNS[0].table
    outer = {
        QueueOrder.PRIORITY: (sub.c.rank.desc(), i.c.ts.desc(), sub.c.outcome_event_id.desc()),
        QueueOrder.NEWEST: (i.c.ts.desc(), sub.c.outcome_event_id.desc()),
        QueueOrder.OLDEST: (i.c.ts.asc(), sub.c.outcome_event_id.asc()),
    }[order]
    stmt = (
        select(*COLUMNS, *(sub.c[f] for f in QUEUE_FIELDS))
        .join(sub, sub.c.outcome_event_id == i.c.event_id)
        .order_by(*outer)
    )
    return list(s.execute(stmt))


def store_review(conn: Connection, review: dict[str, Any]) -> None:
    """Store a review made through the API: with the queue's priority (and what it was offered for), then
    take the inspection out of the queue. If the sink stored the same label first (read back from the
    topic), only the measured ``review_ms`` is added to that row."""
    take_reviewed(conn, [review])
    r = table(ReviewRow)
    stmt = dialect_insert(conn, r)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["event_id"], set_={"review_ms": stmt.excluded.review_ms}),
        [review],
    )
    q = table(ReviewQueueRow)
    conn.execute(delete(q).where(q.c.outcome_event_id == review["outcome_event_id"]))
