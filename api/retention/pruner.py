"""One kind of the API's data and how it is pruned: counted, then walked and deleted in short transactions.

A :class:`RowPruner` walks the rows older than its kind's cutoff in ``(time, key)`` order along an index,
``batch_size`` at a time: each batch is selected and deleted in one transaction (SQLite: ``BEGIN IMMEDIATE``,
as the sink does, so a batch never waits behind a write it would have to redo). The walk goes on after the
last row it selected, so a row kept because it is still needed is passed once per run, not once per batch.
The ``DELETE`` repeats the whole condition, so a row that became needed between the select and the delete
(a review arriving for it) stays; ``RETURNING`` says what went, which is what the run reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, func, not_, or_, select

from api.retention.policy import Cutoffs, Kind


@dataclass(frozen=True, slots=True)
class Counted:
    """What a kind would lose: rows, their files' bytes, rows of related tables deleted with them, and the
    rows older than the cutoff that stay because something still needs them."""

    rows: int = 0
    file_bytes: int = 0
    related: int = 0
    kept: int = 0


@dataclass(frozen=True, slots=True)
class Deleted:
    """One batch: the rows deleted, their files' bytes, related rows, and the frames (sha256) whose files go
    once the batch has committed."""

    rows: int = 0
    file_bytes: int = 0
    related: int = 0
    frames: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    keys: list[Any]
    cursor: tuple[Any, Any] | None  # (time, key) of the last row selected; None: nothing was


class Pruner(ABC):
    """A kind of data with its retention: count what would go, then delete it batch by batch."""

    kind: Kind
    table: Table
    related_tables: tuple[Table, ...] = ()  # deleted with it (their share of the bytes estimate)

    @abstractmethod
    def count(self, conn: Connection, c: Cutoffs) -> Counted: ...

    @abstractmethod
    def select(
        self, conn: Connection, c: Cutoffs, after: tuple[Any, Any] | None, limit: int
    ) -> Selection: ...

    @abstractmethod
    def delete(self, conn: Connection, c: Cutoffs, keys: Sequence[Any]) -> Deleted: ...


def survives(column: Any, cutoff: Any) -> list[ColumnElement[bool]]:
    """The condition under which a row of another kind stays this run: newer than that kind's cutoff (no
    condition when that kind is kept forever)."""
    return [] if cutoff is None else [column >= cutoff]


class RowPruner(Pruner):
    """Rows whose ``time`` is older than the kind's cutoff and that nothing still needs (:meth:`needed`)."""

    def __init__(self, kind: Kind, table: Table, time: str, key: str) -> None:
        self.kind = kind
        self.table = table
        self.time = table.c[time]
        self.key = table.c[key]

    def needed(self, c: Cutoffs) -> ColumnElement[bool] | None:
        """Rows older than the cutoff that must stay (None: none)."""
        return None

    def file_bytes(self) -> ColumnElement[Any] | None:
        """The bytes of a row's file (frames), summed into the figures."""
        return None

    def related_rows(self) -> ColumnElement[Any] | None:
        """Rows of the related tables a row takes with it (an outcome's detections)."""
        return None

    def older(self, c: Cutoffs) -> ColumnElement[bool]:
        return self.time < c.of(self.kind)

    def prunable(self, c: Cutoffs) -> ColumnElement[bool]:
        needed = self.needed(c)
        return self.older(c) if needed is None else and_(self.older(c), not_(needed))

    def count(self, conn: Connection, c: Cutoffs) -> Counted:
        sums = [
            func.coalesce(func.sum(col), 0)
            for col in (self.file_bytes(), self.related_rows())
            if col is not None
        ]
        row = conn.execute(select(func.count(), *sums).where(self.prunable(c))).one()
        values = iter(row[1:])
        size = int(next(values)) if self.file_bytes() is not None else 0
        related = int(next(values)) if self.related_rows() is not None else 0
        older = int(conn.scalar(select(func.count()).where(self.older(c))) or 0)
        return Counted(rows=int(row[0]), file_bytes=size, related=related, kept=older - int(row[0]))

    def select(self, conn: Connection, c: Cutoffs, after: tuple[Any, Any] | None, limit: int) -> Selection:
        stmt = select(self.time, self.key).where(self.prunable(c))
        if after is not None:
            t, k = after
            stmt = stmt.where(self.time >= t, or_(self.time > t, self.key > k))
        rows = conn.execute(stmt.order_by(self.time, self.key).limit(limit)).all()
        return Selection([r[1] for r in rows], (rows[-1][0], rows[-1][1]) if rows else None)

    def returning(self) -> list[Any]:
        return [c for c in (self.key, self.file_bytes(), self.related_rows()) if c is not None]

    def delete(self, conn: Connection, c: Cutoffs, keys: Sequence[Any]) -> Deleted:
        if not keys:
            return Deleted()
        stmt = delete(self.table).where(self.key.in_(list(keys)), self.prunable(c))
        gone = conn.execute(stmt.returning(*self.returning())).all()
        self.after_delete(conn, gone)
        size_at = 1 if self.file_bytes() is not None else None
        related_at = (2 if size_at else 1) if self.related_rows() is not None else None
        return Deleted(
            rows=len(gone),
            file_bytes=sum(int(r[size_at] or 0) for r in gone) if size_at else 0,
            related=sum(int(r[related_at] or 0) for r in gone) if related_at else 0,
            frames=self.frames_of(gone),
        )

    def after_delete(self, conn: Connection, gone: Sequence[Any]) -> None:
        """Delete what the deleted rows took with them (same transaction)."""

    def frames_of(self, gone: Sequence[Any]) -> tuple[str, ...]:
        return ()
