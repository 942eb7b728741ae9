"""In-memory facts for the rule tests (what ``api.alerts.facts.DbFacts`` reads from the database), with
factories of agents' heartbeats and rollbacks, and a clock the tests move by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from api.alerts.rules.base import AgentFact, CounterPoint, RollbackFact, VerdictCounts

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def agent(agent_id: str = "a1", *, age_s: float = 1.0, now: datetime = T0, **heartbeat: Any) -> AgentFact:
    """An agent whose latest heartbeat is ``age_s`` old at ``now``; ``line``/``station``/``product`` and any
    heartbeat field may be given."""
    line = heartbeat.pop("line", "L1")
    station = heartbeat.pop("station", "S1")
    camera = {"connected": True, "blur_score": 300.0, "frozen": False, "brightness": 120.0}
    camera |= heartbeat.pop("camera", {})
    hb = {"uptime_s": 3600.0, "buffer_bytes": 0, "late_rejects": 0, "missed_parts": 0, "camera": camera}
    return AgentFact(agent_id, line, station, now - timedelta(seconds=age_s), hb | heartbeat)


def rollback(product: str = "plate", *, age_s: float = 60.0, now: datetime = T0, **kw: Any) -> RollbackFact:
    base: dict[str, Any] = {
        "rollout_id": "r1",
        "model_version": "3",
        "previous_version": "2",
        "reason": "canary fail rate 0.2 > 0.05",
        "actor": "rollout-controller",
    }
    return RollbackFact(product=product, ts=now - timedelta(seconds=age_s), **(base | kw))


@dataclass
class MemoryFacts:
    """``window``: verdicts of ranges not on the hour; ``hourly``: of whole hours (as DbFacts splits them)."""

    agent_list: list[AgentFact] = field(default_factory=list)
    window: VerdictCounts = field(default_factory=dict)
    hourly: VerdictCounts = field(default_factory=dict)
    rollback_list: list[RollbackFact] = field(default_factory=list)
    history: dict[str, list[CounterPoint]] = field(default_factory=dict)  # agent id -> stored heartbeats
    asked: list[tuple[datetime, datetime, bool, str | None]] = field(default_factory=list)

    def agents(self) -> list[AgentFact]:
        return list(self.agent_list)

    def verdicts(
        self, since: datetime, until: datetime, *, by_station: bool, product: str | None
    ) -> VerdictCounts:
        self.asked.append((since, until, by_station, product))
        on_hour = since.minute == since.second == 0 and until.minute == until.second == 0
        return self.hourly if on_hour else self.window

    def rollbacks(self, since: datetime) -> list[RollbackFact]:
        return [r for r in self.rollback_list if r.ts >= since]

    def counters(self, agent_id: str, since: datetime) -> list[CounterPoint]:
        return [p for p in self.history.get(agent_id, []) if p.ts >= since]
