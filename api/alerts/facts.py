"""The rules' facts read from the API database: agents' latest heartbeats (``agents``), verdict counts
(``inspections`` for a recent window, ``hourly_inspections`` for whole hours) and rollbacks (``rollouts``).
One instance per evaluation: the agents are read once and shared by every rule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.alerts.rules.base import AgentFact, CounterPoint, RollbackFact, VerdictCounts
from api.db.models import AgentRow, HeartbeatRow, HourlyInspectionRow, InspectionRow, RolloutRow
from factoryloop.schemas import RolloutState


def _on_the_hour(ts: datetime) -> bool:
    return ts.minute == 0 and ts.second == 0 and ts.microsecond == 0


class DbFacts:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._agents: list[AgentFact] | None = None

    def agents(self) -> list[AgentFact]:
        if self._agents is None:
            rows = self.session.scalars(select(AgentRow).order_by(AgentRow.agent_id)).all()
            self._agents = [
                AgentFact(r.agent_id, r.line_id, r.station_id, r.last_seen, dict(r.heartbeat or {}))
                for r in rows
            ]
        return self._agents

    def verdicts(
        self, since: datetime, until: datetime, *, by_station: bool, product: str | None
    ) -> VerdictCounts:
        """Non-shadow inspections in [since, until) per line (and station) and verdict; from the hourly
        summaries when both ends are on the hour (a long baseline costs a few rows per hour)."""
        if _on_the_hour(since) and _on_the_hour(until):
            h = HourlyInspectionRow
            cols = [h.line_id, h.station_id, h.verdict] if by_station else [h.line_id, h.verdict]
            query = select(*cols, func.sum(h.n)).where(h.hour >= since, h.hour < until)
            if product is not None:
                query = query.where(h.product == product)
        else:
            i = InspectionRow
            cols = [i.line_id, i.station_id, i.verdict] if by_station else [i.line_id, i.verdict]
            query = select(*cols, func.count()).where(i.ts >= since, i.ts < until, i.shadow.is_(False))
            if product is not None:
                query = query.where(i.product == product)
        out: VerdictCounts = {}
        for row in self.session.execute(query.group_by(*cols)).all():
            line, st, verdict, n = (
                (row[0], row[1], row[2], row[3]) if by_station else (row[0], "", row[1], row[2])
            )
            bucket = out.setdefault((line, st), {})
            bucket[verdict] = bucket.get(verdict, 0) + int(n)
        return out

    def rollbacks(self, since: datetime) -> list[RollbackFact]:
        r = RolloutRow
        rows = self.session.scalars(
            select(r)
            .where(r.ts >= since, r.kind == "rollout_event", r.state == RolloutState.ROLLED_BACK.value)
            .order_by(r.ts, r.id)
        ).all()
        return [
            RollbackFact(
                product=x.product,
                ts=x.ts,
                rollout_id=x.rollout_id,
                model_version=x.model_version,
                previous_version=x.previous_version,
                reason=x.reason,
                actor=x.actor,
                evidence=dict(x.evidence or {}),
            )
            for x in rows
        ]

    def counters(self, agent_id: str, since: datetime) -> list[CounterPoint]:
        h = HeartbeatRow
        rows = self.session.execute(
            select(h.ts, h.uptime_s, h.late_rejects, h.missed_parts)
            .where(h.agent_id == agent_id, h.ts >= since, h.uptime_s.is_not(None))
            .order_by(h.ts)
        ).all()
        return [CounterPoint(r[0], float(r[1] or 0.0), int(r[2] or 0), int(r[3] or 0)) for r in rows]
