"""``INSERT ... ON CONFLICT DO NOTHING`` / ``DO UPDATE`` for SQLite and PostgreSQL (parameterised,
batched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from api.db.models import Base
from api.errors import ApiError


def table(model: type[Base]) -> Table:
    """The Core table of an ORM model (typed)."""
    t = model.__table__
    assert isinstance(t, Table)
    return t


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise ApiError(f"database dialect {name!r} is not supported (use sqlite or postgresql)")


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those whose unique key exists; returns how many were inserted."""
    if not rows:
        return 0
    result = conn.execute(_insert(conn, table).on_conflict_do_nothing(), list(rows))
    return max(result.rowcount, 0)


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
