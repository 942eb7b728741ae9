"""The API data of the retention tests: outcomes, frames, reviews, heartbeats, agent events, alerts and
rollouts of known ages, written through the sink's writer (frames into a real frame store)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from api.db.engine import Database
from api.db.migrate import upgrade
from api.db.models import (
    AgentEventRow,
    AlertDeliveryRow,
    AlertRow,
    DetectionRow,
    FrameRow,
    HeartbeatRow,
    InspectionRow,
    ReviewQueueRow,
    ReviewRow,
    RolloutRow,
)
from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.schemas import FramePayload, Outcome, ReviewAction
from tests.support.events import agent_event, detection, frame, heartbeat, label, outcome

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
TABLES = (
    InspectionRow,
    DetectionRow,
    FrameRow,
    ReviewQueueRow,
    ReviewRow,
    HeartbeatRow,
    AgentEventRow,
    AlertRow,
    AlertDeliveryRow,
    RolloutRow,
)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def jpeg(seed: int, size: int) -> bytes:
    return bytes((i * 7 + seed * 13) % 251 for i in range(size))


@dataclass
class RetentionSite:
    db: Database
    frames: LocalFrameStore
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    jpegs: dict[str, bytes] = field(default_factory=dict)  # frame name -> bytes

    @property
    def writer(self) -> SinkWriter:
        return SinkWriter(self.db.engine, self.frames)

    def sha(self, frame_name: str) -> str:
        return hashlib.sha256(self.jpegs[frame_name]).hexdigest()

    def add_outcome(self, name: str, days: float, *, frame_name: str | None = None, **kw: Any) -> Outcome:
        """An outcome ``days`` old; with ``frame_name`` its frame (sent with it the first time it is used)."""
        fname = frame_name or name
        if fname not in self.jpegs:
            self.jpegs[fname] = jpeg(len(self.jpegs), 800 + 100 * len(self.jpegs))
        sha = self.sha(fname)
        o = outcome(ts=ago(days), captured_at=ago(days), frame_sha256=sha, detections=(detection(),), **kw)
        payload = FramePayload(
            meta=frame(self.jpegs[fname], outcome_event_id=o.event_id), jpeg=self.jpegs[fname]
        )
        self.writer.write([o, payload])
        with self.db.engine.begin() as conn:  # the frame arrived with the outcome, not now
            f = FrameRow.__table__
            conn.execute(
                update(f).where(f.c.sha256 == sha, f.c.received_at > ago(days)).values(received_at=ago(days))
            )
        self.outcomes[name] = o
        return o

    def review(self, name: str, days: float) -> None:
        o = self.outcomes[name]
        self.writer.write(
            [
                label(
                    ts=ago(days),
                    outcome_event_id=o.event_id,
                    frame_sha256=o.frame_sha256,
                    action=ReviewAction.REJECT,
                    detections=(),
                )
            ]
        )

    def add_alert(self, rule: str, fired_days: float, resolved_days: float | None) -> int:
        with self.db.session() as s:
            row = AlertRow(
                rule=rule,
                rule_type="agent_offline",
                severity="warning",
                subject=f"agent:{rule}",
                state="open" if resolved_days is None else "resolved",
                message="m",
                evidence={},
                fired_at=ago(fired_days),
                last_seen_at=ago(resolved_days if resolved_days is not None else fired_days),
                resolved_at=None if resolved_days is None else ago(resolved_days),
            )
            s.add(row)
            s.flush()
            s.add(
                AlertDeliveryRow(
                    alert_id=row.id,
                    channel="ops",
                    event="fired",
                    status="sent",
                    attempts=1,
                    ts=ago(fired_days),
                )
            )
            return row.id

    def add_rollout(self, story: str, days: float, state: str, *, request: bool = False) -> None:
        kind = "rollout_request" if request else "rollout_event"
        with self.db.session() as s:
            s.add(
                RolloutRow(
                    event_id=f"{story}-{state}-{days}",
                    kind=kind,
                    ts=ago(days),
                    product="widget",
                    request_id=f"req-{story}",
                    rollout_id=None if request else f"ro-{story}",
                    state=state,
                    agents=[],
                    evidence={},
                    actor="test",
                    payload={},
                )
            )

    def counts(self) -> dict[str, int]:
        with self.db.session() as s:
            return {m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0) for m in TABLES}

    def stored_frames(self) -> dict[str, bytes]:
        """Frame name -> the bytes the store holds now (absent: gone)."""
        return {n: self.frames.get(self.sha(n)) for n in self.jpegs if self.frames.exists(self.sha(n))}

    def outcome_names(self) -> set[str]:
        with self.db.session() as s:
            ids = set(s.scalars(select(InspectionRow.event_id)))
        return {n for n, o in self.outcomes.items() if o.event_id in ids}


@contextmanager
def retention_site(db_url: str, root: Path) -> Iterator[RetentionSite]:
    """The standard scenario (names are what the tests expect to go or stay)."""
    db = Database(db_url)
    upgrade(db.engine)
    site = RetentionSite(db, LocalFrameStore(root / "frames"))
    site.add_outcome("plain_old", 120)
    site.add_outcome("queued_old", 120, verdict="UNCERTAIN")
    site.add_outcome("reviewed_old", 120)
    site.review("reviewed_old", 100)
    site.add_outcome("queued_mid", 40, verdict="UNCERTAIN")
    site.add_outcome("shared_old", 40, frame_name="shared")
    site.add_outcome("shared_new", 2, frame_name="shared")
    site.add_outcome("recent", 1, verdict="UNCERTAIN")
    site.writer.write([outcome(ts=ago(120), shadow=True, frame_sent=False, frame_sha256="c" * 64)])
    site.writer.write(
        [heartbeat(ts=ago(40)), heartbeat(ts=ago(1)), agent_event(ts=ago(400)), agent_event(ts=ago(10))]
    )
    site.add_alert("old_resolved", 400, 399)
    site.add_alert("old_open", 400, None)
    site.add_alert("resolved_lately", 400, 100)
    site.add_rollout("ended", 400, "requested", request=True)
    site.add_rollout("ended", 399, "canary")
    site.add_rollout("ended", 398, "full")
    site.add_rollout("stuck", 400, "canary")
    site.add_rollout("late_end", 400, "canary")
    site.add_rollout("late_end", 100, "rolled_back")
    try:
        yield site
    finally:
        db.dispose()
