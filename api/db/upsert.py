"""``INSERT ... ON CONFLICT DO NOTHING`` / ``DO UPDATE`` for SQLite and PostgreSQL (parameterised,
batched)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
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


_ZERO = timedelta(0)


def _sqlite_datetime(v: datetime | None) -> str | None:
    """SQLAlchemy's SQLite storage of a UTC datetime: naive ISO text with microseconds."""
    if v is None:
        return None
    if v.tzinfo is UTC:  # what the wire schemas normalise to: no conversion, no offset lookup
        return v.isoformat(" ", "microseconds")[:26]
    offset = v.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {v}: pass an aware (UTC) datetime")
    if offset != _ZERO:  # wire events are already UTC (pydantic's own tz object): no conversion then
        v = v.astimezone(UTC)
    return v.isoformat(" ", "microseconds")[:26]


class _DatetimeText:
    """:func:`_sqlite_datetime` remembering its last value: a batch's rows share one ``ingested_at``."""

    def __init__(self) -> None:
        self._last: tuple[datetime | None, str | None] = (None, None)

    def __call__(self, v: datetime | None) -> str | None:
        last, text = self._last
        if v is last:
            return text
        text = _sqlite_datetime(v)
        self._last = (v, text)
        return text


class _JsonText:
    """``json.dumps`` with a memo: a sink batch repeats the same small objects (an agent's thresholds) on
    every row, and encoding costs ~15 us a call. Keys are the items, so equal objects share the text."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._memo: dict[Any, str] = {}
        self._max = max_entries

    def __call__(self, v: Any) -> str | None:
        if v is None:
            return None
        try:
            # The types are in the key: 1, 1.0 and True are equal keys but encode differently.
            key = tuple((k, type(x), x) for k, x in v.items()) if isinstance(v, dict) else None
            hit = self._memo.get(key) if key is not None else None
        except TypeError:  # unhashable values (nested lists or dicts): no memo
            key, hit = None, None
        if hit is not None:
            return hit
        text = json.dumps(v)
        if key is not None:
            if len(self._memo) >= self._max:
                self._memo.clear()
            self._memo[key] = text
        return text


def _sqlite_value(type_: Any) -> Callable[[Any], Any] | None:
    """Driver-level conversion matching SQLAlchemy's SQLite storage (so reads through the ORM agree)."""
    if isinstance(type_, UtcDateTime):
        return _DatetimeText()
    if isinstance(type_, JSON):
        return _JsonText()
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
