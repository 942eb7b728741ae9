"""``INSERT ... ON CONFLICT DO NOTHING`` / ``DO UPDATE`` for SQLite and PostgreSQL (parameterised,
batched)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from api.db.models import Base
from api.db.types import UtcDateTime
from api.errors import ApiError


def table(model: type[Base]) -> Table:
    """The Core table of an ORM model (typed)."""
    t = model.__table__
    assert isinstance(t, Table)
    return t


def pg_insert(table: Table) -> Any:
    return postgresql.insert(table)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's ``INSERT`` construct (with ``on_conflict_do_*``)."""
    return _insert(conn, table)


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise ApiError(f"database dialect {name!r} is not supported (use sqlite or postgresql)")


def _sqlite_datetime(v: datetime | None) -> str | None:
    if v is None:
        return None
    if v.tzinfo is not UTC:  # wire events are already UTC: skip the conversion then
        v = v.astimezone(UTC)
    return v.isoformat(" ", "microseconds")[:26]


def _sqlite_value(type_: Any) -> Callable[[Any], Any] | None:
    """Driver-level conversion matching SQLAlchemy's SQLite storage (so reads through the ORM agree)."""
    if isinstance(type_, UtcDateTime):
        return lambda v: (
            None if v is None else v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        )
    if isinstance(type_, JSON):
        return lambda v: None if v is None else json.dumps(v)
    return None


def _sqlite_insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """The hot path of the sink on SQLite: one prepared ``INSERT ... ON CONFLICT DO NOTHING`` and the driver's
    executemany over tuples (SQLAlchemy's per-row bind processing costs ~3x the insert itself)."""
    cols = list(rows[0])
    convert = [_sqlite_value(table.c[c].type) for c in cols]
    names = ", ".join(f'"{c}"' for c in cols)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(cols))}) ON CONFLICT DO NOTHING'
    get = itemgetter(*cols) if len(cols) > 1 else (lambda r: (r[cols[0]],))
    todo = [(i, f) for i, f in enumerate(convert) if f is not None]
    params: list[tuple[Any, ...]] = []
    for r in rows:
        values = list(get(r))
        for i, f in todo:
            values[i] = f(values[i])
        params.append(tuple(values))
    result = conn.exec_driver_sql(sql, params)
    return max(result.rowcount, 0)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those whose unique key exists; returns how many were inserted.

    Values are always bound parameters; column names come from the table metadata, never from input.
    """
    if not rows:
        return 0
    if conn.dialect.name == "sqlite":
        return _sqlite_insert_ignore(conn, table, rows)
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
