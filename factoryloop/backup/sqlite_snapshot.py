"""Consistent copies of live SQLite databases through SQLite's online backup API.

A live database (WAL or rollback journal) is never copied byte-wise: its committed state may sit partly in
the ``-wal`` file, and a file copied while a writer commits can be torn. ``sqlite3.Connection.backup`` reads
one consistent snapshot (a read transaction; in WAL mode writers go on meanwhile) and writes a plain database.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from factoryloop.backup.errors import BackupError

logger = logging.getLogger(__name__)

HEADER = b"SQLite format 3\x00"
#: Files beside a database that belong to it (their content is in the snapshot).
SIDECARS = ("-wal", "-shm", "-journal")


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(HEADER)) == HEADER
    except OSError:
        return False


def is_sidecar(path: Path) -> bool:
    """A ``-wal``/``-shm``/``-journal`` file of a database beside it."""
    for suffix in SIDECARS:
        if path.name.endswith(suffix) and path.with_name(path.name[: -len(suffix)]).exists():
            return True
    return False


def _details(db: sqlite3.Connection) -> dict[str, Any]:
    out: dict[str, Any] = {
        "page_size": db.execute("PRAGMA page_size").fetchone()[0],
        "page_count": db.execute("PRAGMA page_count").fetchone()[0],
        "user_version": db.execute("PRAGMA user_version").fetchone()[0],
    }
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out["tables"] = len(tables)
    if "alembic_version" in tables:  # the API's and MLflow's schema revision
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        out["schema_revision"] = row[0] if row else None
    return out


def snapshot(src: Path, dst: Path, timeout_s: float = 60.0) -> dict[str, Any]:
    """Write a consistent copy of the live database ``src`` to ``dst`` (a new file); returns its page
    counts, table count and schema revision. The copy is checked with ``PRAGMA quick_check``."""
    if dst.exists():
        raise BackupError(f"{dst} exists already")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Read-only: a backup never creates or changes the live database (nor needs write access to it).
        source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_s)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the SQLite database {src}: {exc}") from exc
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)  # all pages in one step: one snapshot, not restarted by writers
            details = _details(target)
            check = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
    except sqlite3.Error as exc:
        dst.unlink(missing_ok=True)
        raise BackupError(f"SQLite backup of {src} failed: {exc}") from exc
    finally:
        source.close()
    if check != "ok":
        raise BackupError(f"the snapshot of {src} fails PRAGMA quick_check: {check}")
    logger.info("snapshot of %s: %d pages", src, details["page_count"])
    return details


def check(path: Path) -> None:
    """Raise :class:`BackupError` unless ``path`` (a restored database) passes ``PRAGMA quick_check``."""
    try:
        # Read-write (the file is ours now): closing removes the -wal/-shm a WAL database opens with.
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restored database {path} cannot be read: {exc}") from exc
    if result != "ok":
        raise BackupError(f"restored database {path} fails PRAGMA quick_check: {result}")
