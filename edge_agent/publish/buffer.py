"""Durable store-and-forward buffer: SQLite in WAL mode with ``synchronous=FULL`` (each put is on disk when
``put`` returns), a byte budget, and eviction by priority.

Records leave only when the publisher acknowledges them (:meth:`ack`) or when the budget forces an
eviction: lowest priority first (redundant PASS frames), oldest first within a priority; outcomes and FAIL
frames go last. A record never evicts one of higher priority: if nothing cheaper can go, the incoming record
is the one evicted. Every eviction is counted. Errors propagate (as :class:`BufferStoreError`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from edge_agent.errors import BufferStoreError

logger = logging.getLogger(__name__)

# Priorities: higher survives longer.
PRIO_PASS_FRAME = 0
PRIO_HEARTBEAT = 0
PRIO_FRAME = 1
PRIO_EVENT = 2
PRIO_FAIL_FRAME = 3
PRIO_OUTCOME = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    priority INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_priority ON records (priority, seq);
"""


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A Kafka record ready to send: topic name, key, encoded value, headers and its eviction priority."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    priority: int

    @property
    def size(self) -> int:
        return len(self.value) + len(self.key or b"")


@dataclass(frozen=True, slots=True)
class Buffered:
    seq: int
    record: OutRecord


class DiskBuffer:
    """Thread-safe. ``max_bytes`` bounds the payload bytes kept (SQLite's own overhead comes on top)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.path = Path(directory) / "buffer.sqlite3"
        self.max_bytes = max_bytes
        self.evicted = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise BufferStoreError(f"{self.path}: cannot open the buffer: {exc}") from exc
        self._count, self._bytes = int(row[0]), int(row[1])
        if self._count:
            logger.info(
                "buffer %s holds %d records (%d bytes) from before", self.path, self._count, self._bytes
            )

    @property
    def count(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        return self._bytes

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise BufferStoreError(f"{self.path}: buffer is closed")
        return self._db

    def _make_room(self, db: sqlite3.Connection, need: int, priority: int) -> bool:
        """Evict cheaper-or-equal records, oldest first, until ``need`` bytes fit. False if impossible."""
        while self._bytes + need > self.max_bytes:
            row = db.execute(
                "SELECT seq, size FROM records WHERE priority <= ? ORDER BY priority, seq LIMIT 1",
                (priority,),
            ).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM records WHERE seq = ?", (row[0],))
            self._count -= 1
            self._bytes -= int(row[1])
            self.evicted += 1
        return True

    def put(self, record: OutRecord) -> bool:
        """Store ``record`` durably. False (and counted as evicted) when the budget cannot take it."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    fits = record.size <= self.max_bytes and self._make_room(db, record.size, record.priority)
                    if fits:
                        db.execute(
                            "INSERT INTO records (topic, key, value, headers, priority, size) "
                            "VALUES (?,?,?,?,?,?)",
                            (
                                record.topic,
                                record.key,
                                record.value,
                                json.dumps([[k, v.decode("latin-1")] for k, v in record.headers]),
                                record.priority,
                                record.size,
                            ),
                        )
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._reload_totals()
                raise BufferStoreError(
                    f"{self.path}: cannot store a record for {record.topic}: {exc}"
                ) from exc
            if not fits:
                self.evicted += 1
                logger.warning(
                    "buffer full: dropped an incoming %s record (priority %d)", record.topic, record.priority
                )
                return False
            self._count += 1
            self._bytes += record.size
            return True

    def _reload_totals(self) -> None:
        if self._db is not None:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records").fetchone()
            self._count, self._bytes = int(row[0]), int(row[1])

    def peek(self, limit: int = 100) -> list[Buffered]:
        """The oldest ``limit`` records, in the order they were stored."""
        with self._lock:
            try:
                rows = (
                    self._conn()
                    .execute(
                        "SELECT seq, topic, key, value, headers, priority FROM records ORDER BY seq LIMIT ?",
                        (limit,),
                    )
                    .fetchall()
                )
            except sqlite3.Error as exc:
                raise BufferStoreError(f"{self.path}: cannot read the buffer: {exc}") from exc
        return [
            Buffered(
                seq,
                OutRecord(
                    topic, key, value, tuple((k, v.encode("latin-1")) for k, v in json.loads(headers)), prio
                ),
            )
            for seq, topic, key, value, headers, prio in rows
        ]

    def ack(self, seqs: list[int]) -> None:
        """Remove acknowledged records."""
        if not seqs:
            return
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    marks = ",".join("?" * len(seqs))
                    row = db.execute(
                        f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records WHERE seq IN ({marks})", seqs
                    ).fetchone()
                    db.execute(f"DELETE FROM records WHERE seq IN ({marks})", seqs)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise BufferStoreError(f"{self.path}: cannot remove acknowledged records: {exc}") from exc
            self._count -= int(row[0])
            self._bytes -= int(row[1])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    self._db.close()
                    self._db = None
