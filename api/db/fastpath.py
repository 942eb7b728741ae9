"""Bulk ``INSERT ... ON CONFLICT DO NOTHING`` through the driver: the sink's hot path.

Rows (dicts) become driver tuples column by column, each value converted as SQLAlchemy would bind it (so
reads through the ORM agree), and one short statement runs through the driver's executemany. SQLAlchemy's
own executemany costs more than the insert itself: on SQLite its per-row bind processing (~3x the insert);
on PostgreSQL its "insertmanyvalues" statement (a VALUES list of 1,000 rows in one SQL text), which psycopg
parses again in Python for every batch, being too long for its statement cache (2,900 outcome rows per
CPU-second against 13,600 with a short statement and psycopg's pipelined executemany, docs/benchmarks.md).

Values are always bound parameters; column names come from the table metadata, never from input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Table

from api.db.types import UtcDateTime

Column = Callable[[list[Any]], list[Any]]
_ZERO = timedelta(0)


def _utc(v: datetime) -> datetime:
    if v.tzinfo is UTC:  # what the wire schemas normalise to: no conversion, no offset lookup
        return v
    offset = v.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {v}: pass an aware (UTC) datetime")
    return v.astimezone(UTC) if offset != _ZERO else v


def _sqlite_datetime(v: datetime | None) -> str | None:
    """SQLAlchemy's SQLite storage of a UTC datetime: naive ISO text with microseconds."""
    return None if v is None else _utc(v).isoformat(" ", "microseconds")[:26]


def _pg_datetime(v: datetime | None) -> datetime | None:
    """What ``UtcDateTime`` binds on PostgreSQL: the naive UTC datetime (``timestamp without time zone``)."""
    return None if v is None else _utc(v).replace(tzinfo=None)


_TWO_DIGITS = [f"{i:02d}" for i in range(60)]


def _sqlite_datetimes(values: list[Any]) -> list[Any]:
    """:func:`_sqlite_datetime` over a column. ``isoformat`` is the costly part (~13k instructions a call):
    the text up to the hour is formatted once per hour, the rest from the fields (half the instructions)."""
    first = values[0]
    if values.count(first) == len(values):  # a value shared by every row (a batch's ``ingested_at``)
        return [_sqlite_datetime(first)] * len(values)
    hours: dict[tuple[int, int, int, int], str] = {}
    out = []
    for v in values:
        if v.tzinfo is not UTC:
            out.append(_sqlite_datetime(v))
            continue
        hour = (v.year, v.month, v.day, v.hour)
        prefix = hours.get(hour)
        if prefix is None:
            prefix = hours[hour] = v.isoformat(" ", "hours")[:13] + ":"  # "2026-01-02 03:"
        out.append(f"{prefix}{_TWO_DIGITS[v.minute]}:{_TWO_DIGITS[v.second]}.{v.microsecond:06d}")
    return out


def _pg_datetimes(values: list[Any]) -> list[Any]:
    first = values[0]
    if values.count(first) == len(values):
        return [_pg_datetime(first)] * len(values)
    return [v.replace(tzinfo=None) if v.tzinfo is UTC else _pg_datetime(v) for v in values]


_SCALARS = frozenset({str, int, float, bool, type(None)})


class _JsonText:
    """``json.dumps`` with a memo: a sink batch repeats the same small objects (an agent's thresholds) on
    every row, and encoding costs ~15 us a call. Keys are the items, so equal objects share the text."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._memo: dict[Any, str] = {}
        self._max = max_entries

    def __call__(self, v: Any) -> str | None:
        if v is None:
            return None
        key: Any = None
        if type(v) is dict:
            types = (*map(type, v), *map(type, v.values()))
            # Flat objects only, the types of their keys and values in the memo's key: 1, 1.0 and True are
            # equal but encode differently (and so would (1,) and (1.0,) inside a tuple).
            if _SCALARS.issuperset(types):
                key = (tuple(v.items()), types)
        hit = self._memo.get(key) if key is not None else None
        if hit is not None:
            return hit
        text = json.dumps(v)
        if key is not None:
            if len(self._memo) >= self._max:
                self._memo.clear()
            self._memo[key] = text
        return text

    def column(self, values: list[Any]) -> list[Any]:
        return list(map(self, values))


_JSON = _JsonText()  # shared: dict operations are atomic under the GIL, a race only costs a memo miss


def _sqlite_value(type_: Any) -> Callable[[Any], Any] | None:
    """Driver-level conversion of one value matching SQLAlchemy's SQLite storage."""
    if isinstance(type_, UtcDateTime):
        return _sqlite_datetime
    if isinstance(type_, JSON):
        return _JsonText()
    return None


def _none_safe(convert: Column) -> Column:
    """``convert`` on the values that are not None; None stays None (SQL NULL)."""

    def column(values: list[Any]) -> list[Any]:
        if None not in values:
            return convert(values)
        out: list[Any] = [None] * len(values)
        present = [i for i, v in enumerate(values) if v is not None]
        for i, text in zip(present, convert([values[i] for i in present]), strict=True):
            out[i] = text
        return out

    return column


def _ints(values: list[Any]) -> list[Any]:
    return list(map(int, values))


# Per dialect and column type, what SQLAlchemy's bind processing does. SQLite binds booleans as 1/0 (as
# SQLAlchemy does): the driver would otherwise look up an adapter for every bool (~3k instructions each).
_COLUMNS: dict[tuple[str, type[Any]], Column] = {
    ("sqlite", UtcDateTime): _none_safe(_sqlite_datetimes),
    ("sqlite", JSON): _none_safe(_JSON.column),
    ("sqlite", Boolean): _none_safe(_ints),
    ("postgresql", UtcDateTime): _none_safe(_pg_datetimes),
    ("postgresql", JSON): _none_safe(_JSON.column),
}


def driver_params(
    dialect: str, table: Table, rows: Sequence[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns of ``rows`` (the first row's keys) and one driver tuple per row, as SQLAlchemy binds them.

    Column by column: the lookups and the tuples are built in C (``map``, ``zip``), conversions run once per
    datetime or JSON column, so a row costs a fraction of a Python loop over its values.
    """
    cols = list(rows[0])
    columns: list[Any] = []
    for c in cols:
        values = list(map(itemgetter(c), rows))
        type_ = table.c[c].type
        for kind in (UtcDateTime, JSON, Boolean):
            if isinstance(type_, kind):
                convert = _COLUMNS.get((dialect, kind))
                values = values if convert is None else convert(values)
                break
        columns.append(values)
    return cols, list(zip(*columns, strict=True))


@dataclass(frozen=True, slots=True)
class Prepared:
    """An ``INSERT ... ON CONFLICT DO NOTHING`` and its driver parameters: built before the transaction (no
    database state needed), so with several sink processes on SQLite only the insert itself holds the lock."""

    dialect: str
    sql: str
    params: list[tuple[Any, ...]]


def prepare(
    dialect: str, table: Table, rows: Sequence[dict[str, Any]], returning: str | None = None
) -> Prepared:
    """The statement for ``rows`` (not empty), with ``RETURNING returning`` (PostgreSQL) if given."""
    cols, params = driver_params(dialect, table, rows)
    mark = "?" if dialect == "sqlite" else "%s"
    names = ", ".join(f'"{table.c[c].name}"' for c in cols)
    values = ", ".join([mark] * len(cols))
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({values}) ON CONFLICT DO NOTHING'
    if returning is not None:
        sql = f'{sql} RETURNING "{table.c[returning].name}"'
    return Prepared(dialect, sql, params)


def run(conn: Connection, stmt: Prepared) -> int:
    """Execute a prepared insert (without RETURNING); how many rows it inserted."""
    return max(conn.exec_driver_sql(stmt.sql, stmt.params).rowcount, 0)


def run_returning(conn: Connection, stmt: Prepared) -> set[Any]:
    """PostgreSQL: execute a prepared insert with RETURNING; the returned values (of the rows inserted).

    psycopg's executemany with ``returning=True`` (pipelined, one result per row: empty when skipped), on the
    connection of ``conn``'s transaction.
    """
    inserted: set[Any] = set()
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.executemany(stmt.sql, stmt.params, returning=True)
        while True:
            inserted.update(v for (v,) in cur.fetchall())
            if not cur.nextset():
                return inserted


def insert_ignore(conn: Connection, dialect: str, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (not empty), skipping those whose unique key exists; returns how many were inserted."""
    return run(conn, prepare(dialect, table, rows))
