"""``factoryloop api prune``: apply the retention of every kind to the API's database and frame store.

A dry run counts what would go (the same conditions as the deletes) and changes nothing; a real run deletes
in batches of ``batch_size`` rows, one short transaction each, and reports the rows it deleted. Frame files
are removed after the batch that deleted their rows has committed: a crash in between leaves a few unused
files, never a row whose file is gone. Bytes: the frames' are exact; a database row's are estimated from its
table's size per row (SQLite's ``dbstat``, PostgreSQL's ``pg_total_relation_size``). Deleted rows free space
inside the database for new rows; the file itself shrinks only with ``VACUUM`` (SQLite) / ``VACUUM FULL``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import OperationalError

from api.db.engine import Database
from api.db.models import FrameRow
from api.db.upsert import table
from api.frames.store import FrameStore
from api.retention.kinds import pruners
from api.retention.policy import Cutoffs, Kind, RetentionPolicy
from api.retention.pruner import Counted, Deleted, Pruner
from factoryloop.retention import KindFigures

logger = logging.getLogger(__name__)
FRAMES = table(FrameRow)

#: Called after each batch: the kind, rows done, rows counted before the run.
ProgressFn = Callable[[Kind, int, int], None]


def row_bytes(conn: Connection, t: Table) -> float | None:
    """The table's bytes (with its indexes) per row, or None when the database cannot tell."""
    rows = int(conn.scalar(select(func.count()).select_from(t)) or 0)
    if rows == 0:
        return 0.0
    if conn.dialect.name == "sqlite":
        names = list(conn.execute(text("SELECT name FROM sqlite_master WHERE tbl_name = :t"), {"t": t.name}))
        size = 0
        try:
            for (name,) in names:
                q = text("SELECT pgsize FROM dbstat WHERE name = :n AND aggregate = 1")
                size += int(conn.scalar(q, {"n": name}) or 0)
        except OperationalError:  # a SQLite built without dbstat: no estimate (the report says so)
            logger.debug("no dbstat in this SQLite: no size estimate for %s", t.name)
            return None
        return size / rows
    if conn.dialect.name == "postgresql":
        size = conn.scalar(text("SELECT pg_total_relation_size(to_regclass(:t))"), {"t": t.name})
        return float(size or 0) / rows
    return None


def _figures(
    p: Pruner, c: Cutoffs, rows: int, files: int, related: int, kept: int, sizes: Any
) -> KindFigures:
    per_row, per_related = sizes
    if p.kind is Kind.FRAMES:
        size, exact = files, True
    elif per_row is None or per_related is None:
        size, exact = 0, False
    else:
        size, exact = round(rows * per_row + related * per_related), False
    note = f"{related:,} detections; hourly summaries kept" if p.kind is Kind.OUTCOMES else ""
    if not exact and per_row is None:
        note = "size unknown"
    return KindFigures(
        kind=p.kind.value,
        days=c.retention(p.kind),
        cutoff=c.of(p.kind),
        rows=rows,
        bytes=size,
        bytes_exact=exact,
        kept=kept,
        note=note,
    )


def _sizes(conn: Connection, p: Pruner) -> tuple[float | None, float | None]:
    if p.kind is Kind.FRAMES:
        return 0.0, 0.0
    per_row = row_bytes(conn, p.table)
    related = [row_bytes(conn, t) for t in p.related_tables]
    per_related = None if None in related else sum(r or 0.0 for r in related)
    return per_row, per_related


def _remove_files(db: Database, frames: FrameStore, shas: tuple[str, ...]) -> None:
    """After the batch's commit: a crash leaves unused files, never a row whose file is gone. A frame stored
    again in between (a replay of an old frame) would lose its file: said, with what to do."""
    if not shas:
        return
    for sha256 in shas:
        frames.delete(sha256)
    with db.engine.connect() as conn:
        back = list(conn.scalars(select(FRAMES.c.sha256).where(FRAMES.c.sha256.in_(list(shas)))))
    if back:
        logger.error(
            "%d frame(s) were stored again while being pruned and lost their file (e.g. %s): replay them "
            "from the frames topic or delete their rows",
            len(back),
            back[0],
        )


def _delete_all(
    db: Database,
    frames: FrameStore,
    p: Pruner,
    c: Cutoffs,
    batch: int,
    total: int,
    progress: ProgressFn | None,
) -> Deleted:
    done = Deleted()
    cursor = None
    while True:
        with db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # as the sink: the write lock first
            selection = p.select(conn, c, cursor, batch)
            deleted = p.delete(conn, c, selection.keys)
        _remove_files(db, frames, deleted.frames)
        done = Deleted(
            rows=done.rows + deleted.rows,
            file_bytes=done.file_bytes + deleted.file_bytes,
            related=done.related + deleted.related,
        )
        if progress is not None:
            progress(p.kind, done.rows, total)
        if len(selection.keys) < batch or selection.cursor is None:
            return done
        cursor = selection.cursor


def run_retention(
    db: Database,
    frames: FrameStore,
    policy: RetentionPolicy,
    *,
    dry_run: bool,
    now: datetime | None = None,
    progress: ProgressFn | None = None,
    kinds: set[Kind] | None = None,
) -> list[KindFigures]:
    """Prune (or, ``dry_run``, count) every kind (or those of ``kinds``); one figure per kind, in order."""
    c = policy.cutoffs(now)
    out = []
    for p in pruners():
        if kinds is not None and p.kind not in kinds:
            continue
        if c.of(p.kind) is None:
            out.append(KindFigures(kind=p.kind.value, days=None, cutoff=None))
            continue
        with db.engine.connect() as conn:
            counted: Counted = p.count(conn, c)
            sizes = _sizes(conn, p) if counted.rows else (0.0, 0.0)
        if dry_run:
            fig = _figures(p, c, counted.rows, counted.file_bytes, counted.related, counted.kept, sizes)
        else:
            gone = _delete_all(db, frames, p, c, policy.batch_size, counted.rows, progress)
            fig = _figures(p, c, gone.rows, gone.file_bytes, gone.related, counted.kept, sizes)
        logger.info(
            "%s %s: %d rows, %d bytes (%s), %d older kept",
            "would prune" if dry_run else "pruned",
            fig.kind,
            fig.rows,
            fig.bytes,
            "exact" if fig.bytes_exact else "estimated",
            fig.kept,
        )
        out.append(fig)
    return out
