"""Apply the Alembic migrations under ``api/migrations`` (at startup and by ``factoryloop api migrate``).

One migration at a time per database (:func:`migration_lock`): the API and every sink process migrate at
start, and on a site several of them start together on one PostgreSQL. Without the lock two processes
creating the same tables fail (PostgreSQL: a duplicate type or table; SQLite: "table already exists" or
"database is locked"); with it the first migrates and the others find the schema up to date.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from api.errors import MigrationError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: The PostgreSQL advisory lock key of factoryloop's migrations (any constant: "fl-migr" in ASCII).
LOCK_KEY = 0x666C2D6D696772
LOCK_TIMEOUT_S = 600.0  # the longest migration (an index on a site-sized table) fits in it


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def _waited(what: str, started: float, timeout_s: float, warned: bool) -> bool:
    """Between two tries for the lock: says once that it waits; :class:`MigrationError` after timeout_s."""
    waited = time.monotonic() - started
    if waited > timeout_s:
        raise MigrationError(
            f"another process has been migrating {what} for more than {timeout_s:.0f} s: if none is running, "
            "a stuck one holds the lock (PostgreSQL: pg_locks, locktype advisory; SQLite: the lock file's "
            "holder, fuser FILE)"
        )
    if not warned:
        logger.info("another process is migrating %s: waiting for it", what)
    time.sleep(0.2)
    return True


@contextmanager
def migration_lock(engine: Engine, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Held while migrating: a PostgreSQL advisory lock (across machines), a file lock beside a SQLite
    database (across processes); nothing for an in-memory database."""
    started, warned = time.monotonic(), False
    backend, name = engine.url.get_backend_name(), engine.url.database
    if backend == "postgresql":
        with engine.connect() as conn:
            try_lock = text("SELECT pg_try_advisory_lock(:key)")
            while True:
                got = conn.execute(try_lock, {"key": LOCK_KEY}).scalar()
                conn.commit()  # a session lock: no transaction left open beside the migration's
                if got:
                    break
                warned = _waited(f"database {name}", started, timeout_s, warned)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                conn.commit()
        return
    if backend != "sqlite" or not name or name == ":memory:" or name.startswith("file::memory:"):
        yield
        return
    path = Path(f"{name}.migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                warned = _waited(str(name), started, timeout_s, warned)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; one process at a time, the others wait for it)."""
    try:
        with migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except MigrationError:
        raise
    except Exception as exc:
        raise MigrationError(f"database migration to {revision} failed on {engine.url!r}: {exc}") from exc
    logger.info("database schema at %s (%s)", revision, engine.url.get_backend_name())
