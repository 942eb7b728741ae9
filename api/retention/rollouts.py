"""Rollout events go a whole story at a time: a request, the rollout that answered it and every transition
of that rollout (rows linked by ``request_id`` or ``rollout_id``). A story goes when all of its rows are
older than the cutoff and it has ended (its newest event is terminal: full, rolled back, halted, refused);
an unanswered request and a rollout still in flight stay whatever their age, so the rollouts page never
loses what is current. The table is small (tens of rows a month), so the stories are worked out in Python."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from api.db.models import RolloutRow
from api.db.upsert import table
from api.retention.policy import Cutoffs, Kind
from api.retention.pruner import Counted, Deleted, Pruner, Selection
from factoryloop.schemas.rollouts import TERMINAL

EVENT = "rollout_event"
_TERMINAL = frozenset(s.value for s in TERMINAL)


@dataclass(frozen=True, slots=True)
class RolloutFact:
    id: int
    ts: datetime
    kind: str  # rollout_request | rollout_event
    state: str
    rollout_id: str | None = None
    request_id: str | None = None


def _stories(rows: Sequence[RolloutFact]) -> dict[Any, list[RolloutFact]]:
    """Rows grouped by story: a union of the request and rollout ids rows carry together."""
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def keys(r: RolloutFact) -> list[Any]:
        out: list[Any] = [("rollout", r.rollout_id)] if r.rollout_id else []
        out += [("request", r.request_id)] if r.request_id else []
        return out or [("row", r.id)]

    for r in rows:
        first, *rest = keys(r)
        for k in rest:
            parent[find(k)] = find(first)
    stories: dict[Any, list[RolloutFact]] = {}
    for r in rows:
        stories.setdefault(find(keys(r)[0]), []).append(r)
    return stories


def _ended(story: Iterable[RolloutFact]) -> bool:
    events = sorted((r for r in story if r.kind == EVENT), key=lambda r: (r.ts, r.id))
    return bool(events) and events[-1].state in _TERMINAL


def prunable_rollouts(rows: Sequence[RolloutFact], cutoff: datetime) -> tuple[list[int], int]:
    """The ids of the rows to delete (sorted), and how many rows older than ``cutoff`` stay."""
    gone: list[int] = []
    for story in _stories(rows).values():
        if max(r.ts for r in story) < cutoff and _ended(story):
            gone.extend(r.id for r in story)
    older = sum(1 for r in rows if r.ts < cutoff)
    return sorted(gone), older - len(gone)


class RolloutsPruner(Pruner):
    kind = Kind.ROLLOUTS

    def __init__(self) -> None:
        self.table = table(RolloutRow)

    def _plan(self, conn: Connection, c: Cutoffs) -> tuple[list[int], int]:
        cutoff = c.of(self.kind)
        assert cutoff is not None, "a kind kept forever is not pruned"
        r = self.table.c
        facts = [
            RolloutFact(*row)
            for row in conn.execute(select(r.id, r.ts, r.kind, r.state, r.rollout_id, r.request_id))
        ]
        return prunable_rollouts(facts, cutoff)

    def count(self, conn: Connection, c: Cutoffs) -> Counted:
        ids, kept = self._plan(conn, c)
        return Counted(rows=len(ids), kept=kept)

    def select(self, conn: Connection, c: Cutoffs, after: tuple[Any, Any] | None, limit: int) -> Selection:
        last = after[1] if after is not None else -1
        ids = [i for i in self._plan(conn, c)[0] if i > last][:limit]
        return Selection(ids, (None, ids[-1]) if ids else None)

    def delete(self, conn: Connection, c: Cutoffs, keys: Sequence[Any]) -> Deleted:
        if not keys:
            return Deleted()
        r = self.table.c
        gone = conn.execute(delete(self.table).where(r.id.in_(list(keys))).returning(r.id)).all()
        return Deleted(rows=len(gone))
