"""The trainer's durable bookkeeping: ``<state_dir>/trainer-state.sqlite`` (SQLite, WAL, synchronous=FULL).

- ``queue``: the retrain requests waiting and the ones running, rewritten in one transaction whenever the
  queue changes, so a restarted trainer finds what it was asked for (and re-queues what it was running);
- ``schedule``: when each product's schedule last fired (or first started counting).

What the ``new_labels`` trigger counts is not here: it is the dataset store's (its ``reviews`` and
``review_marks`` tables), the one place that knows which reviews are stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from training.datasets.sqlite_tx import immediate_transaction, open_durable
from training.triggers.base import RetrainRequest

FILENAME = "trainer-state.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY, product TEXT NOT NULL, status TEXT NOT NULL, request TEXT NOT NULL,
    reasons TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedule (product TEXT PRIMARY KEY, last_at TEXT NOT NULL);
"""


def state_path(state_dir: Path) -> Path:
    return state_dir / FILENAME


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    """A request as the queue holds it: ``reasons`` is one reason per trigger (merged requests)."""

    request: RetrainRequest
    reasons: dict[str, str]
    running: bool = False


def _dump(request: RetrainRequest) -> str:
    return json.dumps(
        {
            "product": request.product,
            "trigger": request.trigger,
            "reason": request.reason,
            "at": request.at.isoformat(),
            "job_ids": list(request.job_ids),
        }
    )


def _load(text: str) -> RetrainRequest:
    d = json.loads(text)
    at = datetime.fromisoformat(d["at"])
    return RetrainRequest(d["product"], d["trigger"], d["reason"], at, tuple(int(j) for j in d["job_ids"]))


class TrainerState:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = open_durable(path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    # queue -----------------------------------------------------------------------------------------------
    def save_queue(self, entries: Sequence[QueuedRequest]) -> None:
        """Replace the stored queue with ``entries`` (running first, then waiting in queue order)."""
        with self._tx() as db:
            db.execute("DELETE FROM queue")
            db.executemany(
                "INSERT INTO queue VALUES (?,?,?,?,?)",
                [
                    (
                        seq,
                        e.request.product,
                        "running" if e.running else "waiting",
                        _dump(e.request),
                        json.dumps(e.reasons),
                    )
                    for seq, e in enumerate(entries)
                ],
            )

    def load_queue(self) -> list[QueuedRequest]:
        with self._lock:
            rows = self._db.execute("SELECT status, request, reasons FROM queue ORDER BY seq").fetchall()
        return [QueuedRequest(_load(r), json.loads(why), status == "running") for status, r, why in rows]

    # schedule --------------------------------------------------------------------------------------------
    def schedule_last(self, product: str) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT last_at FROM schedule WHERE product = ?", (product,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def set_schedule_last(self, product: str, at: datetime) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO schedule VALUES (?, ?)", (product, at.isoformat()))
