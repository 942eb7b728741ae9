"""One agent's stored heartbeats in time buckets, for its page's charts and ``GET /agents/{id}/history``.

Per bucket: heartbeats received, mean throughput, latency p50 (mean of the reported p50s) and p99 (the worst
reported), the deepest disk buffer, and the frames dropped and errors counted in it. The last two are counters
since the agent's start: a bucket gets the increase since the heartbeat before (the one just before the
window included), and a counter that went down means a restart, counted from zero. Heartbeats stored before
migration 0012 have no figures but throughput (None in their buckets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import HeartbeatRow

#: Bucket sizes to choose from (seconds): the smallest that gives at most MAX_BUCKETS buckets.
SIZES = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
MAX_BUCKETS = 120
_COLUMNS = (
    HeartbeatRow.ts,
    HeartbeatRow.fps,
    HeartbeatRow.latency_p50_ms,
    HeartbeatRow.latency_p99_ms,
    HeartbeatRow.buffer_records,
    HeartbeatRow.frames_dropped,
    HeartbeatRow.errors,
    HeartbeatRow.model_version,
)


@dataclass(frozen=True, slots=True)
class HistoryBucket:
    start: datetime
    heartbeats: int
    fps: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    buffer_records: int | None
    frames_dropped: int | None
    errors: int | None
    model_version: str | None  # the last one reported in the bucket


def bucket_seconds(span: timedelta) -> int:
    seconds = span.total_seconds()
    return next((s for s in SIZES if seconds / s <= MAX_BUCKETS), SIZES[-1])


def _increase(previous: int | None, current: int | None) -> int | None:
    if current is None:
        return None
    if previous is None:
        return 0  # nothing to compare with: the window's first figure
    return current - previous if current >= previous else current  # went down: restarted, counted from 0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def agent_history(
    session: Session, agent_id: str, since: datetime, until: datetime, bucket_s: int
) -> list[HistoryBucket]:
    """The buckets of ``[since, until)`` that hold a heartbeat of ``agent_id``, oldest first."""
    base = select(*_COLUMNS).where(HeartbeatRow.agent_id == agent_id)
    before = session.execute(
        base.where(HeartbeatRow.ts < since).order_by(HeartbeatRow.ts.desc()).limit(1)
    ).first()
    rows = session.execute(
        base.where(HeartbeatRow.ts >= since, HeartbeatRow.ts < until).order_by(HeartbeatRow.ts)
    ).all()
    counters: dict[str, int | None] = {
        "frames_dropped": before.frames_dropped if before else None,
        "errors": before.errors if before else None,
    }
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        index = int((row.ts - since).total_seconds() // bucket_s)
        increases = {k: _increase(counters[k], getattr(row, k)) for k in counters}
        for k in counters:
            if getattr(row, k) is not None:
                counters[k] = getattr(row, k)
        grouped.setdefault(index, []).append((row, increases))
    return [_bucket(since + timedelta(seconds=i * bucket_s), items) for i, items in sorted(grouped.items())]


def _bucket(start: datetime, items: list[Any]) -> HistoryBucket:
    rows = [row for row, _ in items]

    def total(key: str) -> int | None:
        found = [inc[key] for _, inc in items if inc[key] is not None]
        return sum(found) if found else None

    p99 = [r.latency_p99_ms for r in rows if r.latency_p99_ms is not None]
    buffers = [r.buffer_records for r in rows if r.buffer_records is not None]
    return HistoryBucket(
        start=start,
        heartbeats=len(rows),
        fps=sum(r.fps for r in rows) / len(rows),
        latency_p50_ms=_mean([r.latency_p50_ms for r in rows if r.latency_p50_ms is not None]),
        latency_p99_ms=max(p99) if p99 else None,
        buffer_records=max(buffers) if buffers else None,
        frames_dropped=total("frames_dropped"),
        errors=total("errors"),
        model_version=next((r.model_version for r in reversed(rows) if r.model_version), None),
    )
