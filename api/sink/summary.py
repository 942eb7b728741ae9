"""Hourly summaries maintained by the sink in the transaction of the inserts.

Only rows actually inserted are counted: :func:`insert_new` returns them (SQLite: under ``BEGIN IMMEDIATE``
the batch is filtered against the stored keys before inserting; PostgreSQL: ``ON CONFLICT DO NOTHING
RETURNING``), so a replayed or duplicated event changes no count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, case

from api.db.models import ClassDayRow, ClassSightingRow, HourlyDetectionRow, HourlyInspectionRow
from api.db.upsert import dialect_insert, insert_ignore, pg_insert, table

_CHUNK = 5000  # bound parameters per IN (...) probe


def hour_of(ts: datetime) -> datetime:
    """The UTC hour containing ``ts`` (wire events are UTC already; other offsets are converted first)."""
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


def insert_new(
    conn: Connection, tbl: Table, rows: Sequence[dict[str, Any]], key: str
) -> list[dict[str, Any]]:
    """Insert ``rows`` whose ``key`` is not stored yet (first of in-batch duplicates); return those rows.

    On SQLite the caller's transaction must hold the write lock (``BEGIN IMMEDIATE``) so nothing can be
    inserted between the probe and the insert.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        stmt = pg_insert(tbl).on_conflict_do_nothing().returning(tbl.c[key])
        inserted = set(conn.execute(stmt, list(rows)).scalars())
        fresh = []
        for r in rows:
            if r[key] in inserted:
                inserted.discard(r[key])
                fresh.append(r)
        return fresh
    keys = list({r[key] for r in rows})
    stored: set[Any] = set()
    column = tbl.c[key].name  # from the table metadata, never from input; the values are bound
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        sql = f'SELECT "{column}" FROM "{tbl.name}" WHERE "{column}" IN ({", ".join("?" * len(chunk))})'
        stored.update(v for (v,) in conn.exec_driver_sql(sql, tuple(chunk)))
    fresh = []
    for r in rows:
        if r[key] not in stored:
            stored.add(r[key])
            fresh.append(r)
    insert_ignore(conn, tbl, fresh)
    return fresh


def _span(acc: dict[tuple[Any, ...], list[Any]], key: tuple[Any, ...], ts: datetime) -> None:
    have = acc.get(key)
    if have is None:
        acc[key] = [1, ts, ts]
    else:
        have[0] += 1
        have[1] = min(have[1], ts)
        have[2] = max(have[2], ts)


def summarise(
    inspections: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Hourly rows of newly inserted inspections and of their detections (shadow outcomes are not counted)."""
    counts: dict[tuple[Any, ...], int] = {}
    product: dict[str, str] = {}
    for r in inspections:
        if r["shadow"]:
            continue
        product[r["event_id"]] = p = r["product"] or ""
        k = (hour_of(r["ts"]), r["line_id"], r["station_id"], p, r["verdict"])
        counts[k] = counts.get(k, 0) + 1
    dets: dict[tuple[Any, ...], list[Any]] = {}
    seen: dict[tuple[Any, ...], list[Any]] = {}
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
    inspections: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Detections of newly inserted non-shadow inspections per line, product, class and UTC day (every
    verdict), for the rarity of the review priority."""
    product = {r["event_id"]: r["product"] or "" for r in inspections if not r["shadow"]}
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


def add_to_summaries(
    conn: Connection, inspections: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]]
) -> None:
    """Count newly inserted ``inspections`` (and their ``detections``) into the hourly tables and the per-day
    class counts."""
    hourly, hourly_dets, sightings = summarise(inspections, detections)
    _upsert_counts(conn, table(HourlyInspectionRow), hourly, with_times=False)
    _upsert_counts(conn, table(HourlyDetectionRow), hourly_dets, with_times=True)
    _upsert_counts(conn, table(ClassSightingRow), sightings, with_times=True)
    _upsert_counts(conn, table(ClassDayRow), class_days(inspections, detections), with_times=False)
