"""Durable SQLite for the trainer's state: the connection, and one write transaction (BEGIN IMMEDIATE under a
lock, rolled back on error)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


@contextmanager
def immediate_transaction(
    db: sqlite3.Connection, lock: AbstractContextManager[object]
) -> Iterator[sqlite3.Connection]:
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def open_durable(path: Path, schema: str) -> sqlite3.Connection:
    """A connection shared between threads (guard writes with :func:`immediate_transaction`): WAL, and
    ``synchronous=FULL`` so that a committed row survives a power cut, not only a crash; schema applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema)
    return db
