"""The ingest's own bookkeeping, next to the dataset store: outcomes seen (for ``confirm`` reviews) and
events waiting for their frame. SQLite in WAL mode; every write is one committed transaction."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.datasets.sqlite_tx import immediate_transaction, open_durable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    event_id TEXT PRIMARY KEY, frame_sha256 TEXT NOT NULL, product TEXT, detections TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    event_id TEXT PRIMARY KEY, kind TEXT NOT NULL, frame_sha256 TEXT NOT NULL, ts TEXT NOT NULL,
    payload TEXT NOT NULL, waiting_for TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pending_frame ON pending(frame_sha256);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    event_id: str
    kind: str  # "outcome" or "label"
    frame_sha256: str
    payload: str  # the event's JSON
    waiting_for: str  # "frame" or "outcome"


class IngestState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = open_durable(path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def remember_outcome(
        self, event_id: str, frame_sha256: str, product: str | None, detections: Any
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO outcomes VALUES (?,?,?,?)",
                (event_id, frame_sha256, product, json.dumps(detections)),
            )

    def outcome(self, event_id: str) -> tuple[str, str | None, Any] | None:
        rows = self._rows(
            "SELECT frame_sha256, product, detections FROM outcomes WHERE event_id = ?", (event_id,)
        )
        return (rows[0][0], rows[0][1], json.loads(rows[0][2])) if rows else None

    def park(
        self, event_id: str, kind: str, frame_sha256: str, ts: str, payload: str, waiting_for: str
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending VALUES (?,?,?,?,?,?)",
                (event_id, kind, frame_sha256, ts, payload, waiting_for),
            )

    def unpark(self, event_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM pending WHERE event_id = ?", (event_id,))

    def pending_for_frame(self, frame_sha256: str) -> list[Pending]:
        rows = self._rows(
            "SELECT event_id, kind, frame_sha256, payload, waiting_for FROM pending WHERE frame_sha256 = ?"
            " ORDER BY ts, event_id",
            (frame_sha256,),
        )
        return [Pending(*r) for r in rows]

    def pending_for_outcome(self, outcome_event_id: str) -> list[Pending]:
        rows = self._rows(
            "SELECT event_id, kind, frame_sha256, payload, waiting_for FROM pending"
            " WHERE waiting_for = ? ORDER BY ts, event_id",
            (f"outcome:{outcome_event_id}",),
        )
        return [Pending(*r) for r in rows]

    def pending_count(self) -> dict[str, int]:
        return {k: n for k, n in self._rows("SELECT kind, COUNT(*) FROM pending GROUP BY kind")}
