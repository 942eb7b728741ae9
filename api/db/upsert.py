"""``INSERT ... ON CONFLICT DO NOTHING`` / ``DO UPDATE`` for SQLite and PostgreSQL (parameterised,
batched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from api.db import fastpath
from api.db.models import Base
from api.errors import ApiError


def table(model: type[Base]) -> Table:
    """The Core table of an ORM model (typed)."""
    t = model.__table__
    assert isinstance(t, Table)
    return t


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's ``INSERT`` construct (with ``on_conflict_do_*``)."""
    return _insert(conn, table)


def _dialect(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise ApiError(f"database dialect {name!r} is not supported (use sqlite or postgresql)")
    return name


def _insert(conn: Connection, table: Table) -> Any:
    return sqlite.insert(table) if _dialect(conn) == "sqlite" else postgresql.insert(table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those whose unique key exists; returns how many were inserted.

    Values are always bound parameters; column names come from the table metadata, never from input. The
    driver runs it (:mod:`api.db.fastpath`): the sink's hot path.
    """
    if not rows:
        return 0
    return fastpath.insert_ignore(conn, _dialect(conn), table, rows)


def upsert_newer(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str, newer_than: str
) -> int:
    """Insert or replace rows keyed by ``key``, replacing only when ``newer_than`` is greater than stored."""
    if not rows:
        return 0
    stmt = _insert(conn, table)
    update = {c: stmt.excluded[c] for c in rows[0] if c != key}
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_=update, where=table.c[newer_than] < stmt.excluded[newer_than]
    )
    result = conn.execute(stmt, list(rows))
    return max(result.rowcount, 0)
