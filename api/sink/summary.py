"""Hourly summaries maintained by the sink in the transaction of the inserts.

Only rows actually inserted are counted: :func:`insert_new` returns them (SQLite: under ``BEGIN IMMEDIATE``
the insert's row count, and when some were already stored the rows above the largest rowid before the
insert; PostgreSQL: ``ON CONFLICT DO NOTHING RETURNING``, one result per row), so a replayed or duplicated
event changes no count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, case

from api.db.fastpath import Prepared, prepare, run, run_returning
from api.db.models import ClassDayRow, ClassSightingRow, HourlyDetectionRow, HourlyInspectionRow
from api.db.upsert import dialect_insert, table
from api.errors import ApiError


def hour_of(ts: datetime) -> datetime:
    """The UTC hour containing ``ts`` (wire events are UTC already; other offsets are converted first)."""
    if ts.tzinfo is not UTC and ts.utcoffset():  # datetime.UTC: what the wire schemas normalise to
        ts = ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


NewRows = tuple[list[dict[str, Any]], Prepared]  # the first row of each key, and their insert


def prepare_new(dialect: str, tbl: Table, rows: Sequence[dict[str, Any]], key: str) -> NewRows:
    """The first row of each ``key`` in batch order and their insert (PostgreSQL: returning ``key``): what
    :func:`insert_new` runs, built without the database (before the transaction or the write lock)."""
    unique = list(rows)
    if len(set(map(itemgetter(key), rows))) < len(rows):  # in-batch duplicates: the first of each key
        seen: set[Any] = set()
        unique = []
        for r in rows:
            if r[key] not in seen:
                seen.add(r[key])
                unique.append(r)
    return unique, prepare(dialect, tbl, unique, key if dialect == "postgresql" else None)


def insert_new(
    conn: Connection, tbl: Table, rows: Sequence[dict[str, Any]], key: str, prepared: NewRows | None = None
) -> list[dict[str, Any]]:
    """Insert ``rows`` whose ``key`` is not stored yet (first of in-batch duplicates); return those rows, in
    batch order. ``prepared``: :func:`prepare_new` of the same rows, done earlier.

    PostgreSQL: the keys the insert returned. SQLite: the caller's transaction must hold the write lock
    (``BEGIN IMMEDIATE``): nothing else can insert between reading the largest rowid and the insert, so the
    rows this insert added are exactly those with a larger rowid (SQLite gives a new row the largest rowid
    + 1). When every row was new (the insert's row count says so, the usual case) nothing is read back.
    """
    if not rows:
        return []
    unique, stmt = prepared or prepare_new(conn.dialect.name, tbl, rows, key)
    if conn.dialect.name == "postgresql":
        inserted = run_returning(conn, stmt)
        return [r for r in unique if r[key] in inserted]
    before = conn.exec_driver_sql(f'SELECT max(rowid) FROM "{tbl.name}"').scalar() or 0
    n = run(conn, stmt)
    if n == len(unique):
        return unique
    column = tbl.c[key].name  # from the table metadata, never from input; the values are bound
    sql = f'SELECT "{column}" FROM "{tbl.name}" WHERE rowid > ?'
    added = {v for (v,) in conn.exec_driver_sql(sql, (before,))}
    if len(added) != n:  # only if rowids ran out (2**63 - 1 reached) and SQLite picked random ones
        raise ApiError(f"{tbl.name}: {n} rows inserted but {len(added)} found above rowid {before}")
    return [r for r in unique if r[key] in added]


def _span(acc: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], ts: datetime) -> None:
    have = acc.get(key)
    if have is None:
        acc[key] = [1, ts, ts]
    else:
        have[0] += 1
        have[1] = min(have[1], ts)
        have[2] = max(have[2], ts)


_HOURLY_KEY = itemgetter("ts", "line_id", "station_id", "product", "verdict")
_SHADOW = itemgetter("shadow")


def _products(inspections: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Event id -> product ("" for none) of the non-shadow inspections: what summaries count."""
    return {r["event_id"]: r["product"] or "" for r in inspections if not r["shadow"]}


def summarise(
    inspections: Sequence[dict[str, Any]],
    detections: Sequence[dict[str, Any]],
    products: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Hourly rows of newly inserted inspections and of their detections (shadow outcomes are not counted)."""
    kept = inspections
    if any(map(_SHADOW, inspections)):  # rare: test every row only when the batch has shadow outcomes
        kept = [r for r in inspections if not r["shadow"]]
    counts = Counter(
        (
            ts.replace(minute=0, second=0, microsecond=0) if ts.tzinfo is UTC else hour_of(ts),
            line,
            station,
            product or "",
            verdict,
        )
        for ts, line, station, product, verdict in map(_HOURLY_KEY, kept)
    )
    dets: dict[tuple[Any, ...], list[Any]] = {}
    seen: dict[tuple[Any, ...], list[Any]] = {}
    if detections:
        product = _products(inspections) if products is None else products
        for d in detections:
            p = product.get(d["outcome_event_id"])
            if p is None:  # shadow, or its outcome was a duplicate
                continue
            ts = d["ts"]
            _span(dets, (hour_of(ts), d["line_id"], d["station_id"], p, d["verdict"], d["class_name"]), ts)
            if d["verdict"] != "PASS":
                _span(seen, (d["line_id"], d["class_name"]), ts)
    keys = ("hour", "line_id", "station_id", "product", "verdict")
    hourly = [dict(zip(keys, k, strict=True), n=n) for k, n in counts.items()]
    hourly_dets = [
        dict(zip((*keys, "class_name"), k, strict=True), n=n, first_ts=lo, last_ts=hi)
        for k, (n, lo, hi) in dets.items()
    ]
    sightings = [
        {"line_id": line, "class_name": name, "n": n, "first_ts": lo, "last_ts": hi}
        for (line, name), (n, lo, hi) in seen.items()
    ]
    return hourly, hourly_dets, sightings


def day_of(ts: datetime) -> datetime:
    """The UTC day containing ``ts``."""
    return hour_of(ts).replace(hour=0)


def class_days(
    inspections: Sequence[dict[str, Any]],
    detections: Sequence[dict[str, Any]],
    products: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Detections of newly inserted non-shadow inspections per line, product, class and UTC day (every
    verdict), for the rarity of the review priority."""
    if not detections:
        return []
    product = _products(inspections) if products is None else products
    counts: dict[tuple[Any, ...], int] = {}
    for d in detections:
        p = product.get(d["outcome_event_id"])
        if p is not None:
            k = (d["line_id"], p, d["class_name"], day_of(d["ts"]))
            counts[k] = counts.get(k, 0) + 1
    keys = ("line_id", "product", "class_name", "day")
    return [dict(zip(keys, k, strict=True), n=n) for k, n in counts.items()]


def _upsert_counts(conn: Connection, tbl: Table, rows: list[dict[str, Any]], with_times: bool) -> None:
    if not rows:
        return
    stmt = dialect_insert(conn, tbl)
    ex = stmt.excluded
    update: dict[str, Any] = {"n": tbl.c.n + ex.n}
    if with_times:
        update["first_ts"] = case((ex.first_ts < tbl.c.first_ts, ex.first_ts), else_=tbl.c.first_ts)
        update["last_ts"] = case((ex.last_ts > tbl.c.last_ts, ex.last_ts), else_=tbl.c.last_ts)
    pk = [c.name for c in tbl.primary_key.columns]
    conn.execute(stmt.on_conflict_do_update(index_elements=pk, set_=update), rows)


@dataclass(frozen=True, slots=True)
class Counts:
    """What a batch adds to the summary tables (rows for their upserts)."""

    hourly: list[dict[str, Any]]
    hourly_detections: list[dict[str, Any]]
    sightings: list[dict[str, Any]]
    class_days: list[dict[str, Any]]


def count(inspections: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]) -> Counts:
    """The counts of newly inserted ``inspections`` (and their ``detections``): no database needed, so the
    sink computes them before its transaction."""
    products = _products(inspections) if detections else {}
    hourly, hourly_dets, sightings = summarise(inspections, detections, products)
    return Counts(hourly, hourly_dets, sightings, class_days(inspections, detections, products))


def add_counts(conn: Connection, counts: Counts) -> None:
    """Add :func:`count`'s figures to the hourly tables and the per-day class counts."""
    _upsert_counts(conn, table(HourlyInspectionRow), counts.hourly, with_times=False)
    _upsert_counts(conn, table(HourlyDetectionRow), counts.hourly_detections, with_times=True)
    _upsert_counts(conn, table(ClassSightingRow), counts.sightings, with_times=True)
    _upsert_counts(conn, table(ClassDayRow), counts.class_days, with_times=False)


def add_to_summaries(
    conn: Connection, inspections: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]
) -> None:
    """Count newly inserted ``inspections`` (and their ``detections``) into the hourly tables and the per-day
    class counts."""
    add_counts(conn, count(inspections, detections))
