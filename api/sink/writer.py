"""Write a batch of rows in one transaction: inserts that ignore known event ids, agents upserted if newer."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine

from api.db.models import (
    AgentEventRow,
    AgentRow,
    DeploymentRow,
    DetectionRow,
    FrameRow,
    HeartbeatRow,
    InspectionRow,
    ReviewRow,
    RolloutRow,
)
from api.db.upsert import insert_ignore, table, upsert_newer
from api.frames.store import FrameStore
from api.sink.queue import dequeue, enqueue, take_reviewed
from api.sink.rows import to_rows
from api.sink.summary import add_counts, count, insert_new, prepare_new

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriteResult:
    events: int
    inserted: int  # rows of event tables that were new (duplicates are not counted)


def _new_detections(new: list[dict[str, Any]], detections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The detections of newly inserted outcomes, once each (an outcome may repeat in a batch)."""
    if not detections:
        return []
    fresh = set(map(itemgetter("event_id"), new))
    seen: set[tuple[str, int]] = set()
    out = []
    for d in detections:
        k = (d["outcome_event_id"], d["idx"])
        if k[0] in fresh and k not in seen:
            seen.add(k)
            out.append(d)
    return out


class SinkWriter:
    def __init__(self, engine: Engine, frames: FrameStore) -> None:
        self.engine = engine
        self.frames = frames

    def write(self, events: Iterable[Any]) -> WriteResult:
        """Store ``events`` (decoded payloads). Frames go to the frame store first, then everything
        commits."""
        batch = to_rows(events)
        frame_rows = []
        for row, jpeg in batch.frames:
            row["path"] = self.frames.put(row["sha256"], jpeg)
            frame_rows.append(row)
        # What needs no database state is done before the transaction: the outcomes' insert statement and the
        # summary counts assuming every outcome is new (recounted in the rare batch where some were stored).
        # With several sink processes on SQLite, only the inserts then hold the write lock.
        inspections = table(InspectionRow)
        prepared = None
        if batch.inspections:
            prepared = prepare_new(self.engine.dialect.name, inspections, batch.inspections, "event_id")
        unique = prepared[0] if prepared else []
        unique_dets = _new_detections(unique, batch.detections)
        counts = count(unique, unique_dets)
        inserted = 0
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # Take the write lock now: the largest rowid read before the insert and the insert see the
                # same state.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            new = insert_new(conn, inspections, batch.inspections, "event_id", prepared)
            inserted += len(new)
            new_dets = unique_dets
            if len(new) < len(unique):  # some were stored already (a replay)
                new_dets = _new_detections(new, batch.detections)
                counts = count(new, new_dets)
            insert_ignore(conn, table(DetectionRow), new_dets)
            enqueue(conn, new, new_dets)  # reads the class counts before this batch is added to them
            add_counts(conn, counts)
            inserted += insert_ignore(conn, table(FrameRow), frame_rows)
            if batch.reviews:
                take_reviewed(conn, batch.reviews)
                inserted += insert_ignore(conn, table(ReviewRow), batch.reviews)
                dequeue(conn, [r["outcome_event_id"] for r in batch.reviews])
            inserted += insert_ignore(conn, table(HeartbeatRow), batch.heartbeats)
            inserted += insert_ignore(conn, table(AgentEventRow), batch.agent_events)
            inserted += insert_ignore(conn, table(DeploymentRow), batch.deployments)
            inserted += insert_ignore(conn, table(RolloutRow), batch.rollouts)
            upsert_newer(conn, table(AgentRow), list(batch.agents.values()), "agent_id", "last_seen")
        return WriteResult(events=len(batch) + batch.ignored, inserted=inserted)
