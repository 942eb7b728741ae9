"""``late_rejects``: more than ``max_count`` late rejects and/or missed parts at one station in the last
``window_s`` seconds.

Agents report both as counters since their start (heartbeat ``late_rejects``, ``missed_parts``; the sink
stores them with every heartbeat). The rule reads an agent's stored heartbeats of the window once (at its
first evaluation, e.g. after an API restart), then keeps what it reads at each evaluation, and counts the
increase over the window: since the agent's start when it started inside the window, else since the newest
reading at least ``window_s`` old (or the oldest stored reading of the same run: a lower bound only when the
heartbeats before it were stored before migration 0010)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from api.alerts.rules.base import (
    AgentFact,
    CounterPoint,
    Facts,
    Finding,
    Rule,
    RuleConfigBase,
    agent_finding,
    in_scope,
)

Counter = Literal["late_rejects", "missed_parts"]
MAX_READINGS = 2048  # per agent: hours of readings at any sane evaluation interval


class LateRejectsConfig(RuleConfigBase):
    type: Literal["late_rejects"] = "late_rejects"
    window_s: float = Field(default=600.0, gt=0)
    max_count: int = Field(default=0, ge=0, description="Fires when the count in the window exceeds this.")
    count: tuple[Counter, ...] = Field(default=("late_rejects", "missed_parts"), min_length=1)


@dataclass(frozen=True, slots=True)
class Reading:
    ts: datetime  # the heartbeat's time
    started: datetime  # ts - uptime_s: tells one run of the agent from the next
    value: int


def reading(agent: AgentFact, counters: tuple[Counter, ...]) -> Reading:
    hb = agent.heartbeat
    started = agent.last_seen - timedelta(seconds=float(hb.get("uptime_s") or 0.0))
    return Reading(agent.last_seen, started, sum(int(hb.get(c) or 0) for c in counters))


def stored(point: CounterPoint, counters: tuple[Counter, ...]) -> Reading:
    values = {"late_rejects": point.late_rejects, "missed_parts": point.missed_parts}
    return Reading(point.ts, point.ts - timedelta(seconds=point.uptime_s), sum(values[c] for c in counters))


def same_run(a: Reading, b: Reading) -> bool:
    return abs((a.started - b.started).total_seconds()) < 5.0  # heartbeat times vs uptime: jitter only


class LateRejectsRule(Rule):
    config: LateRejectsConfig

    def __init__(self, config: LateRejectsConfig) -> None:
        self.config = config
        self._readings: dict[str, deque[Reading]] = {}

    def _observe(self, agent: AgentFact, facts: Facts, now_ts: datetime) -> deque[Reading]:
        seen = self._readings.get(agent.agent_id)
        if seen is None:  # first sight (the API restarted): the window's stored heartbeats
            since = now_ts - timedelta(seconds=2 * self.config.window_s)  # a baseline older than the window
            history = [stored(p, self.config.count) for p in facts.counters(agent.agent_id, since)]
            seen = self._readings[agent.agent_id] = deque(history, maxlen=MAX_READINGS)
        now = reading(agent, self.config.count)
        if not seen or now.ts > seen[-1].ts:
            seen.append(now)
        return seen

    def count(self, seen: deque[Reading], now: datetime) -> tuple[int, datetime]:
        """The increase over the window and the time it is counted from."""
        latest = seen[-1]
        start = now - timedelta(seconds=self.config.window_s)
        if latest.started >= start:
            return latest.value, latest.started
        base = None
        for r in seen:  # oldest first
            if not same_run(r, latest):
                continue
            if r.ts <= start or base is None:
                base = r
            if r.ts > start:
                break
        assert base is not None  # latest itself is of its own run
        return latest.value - base.value, base.ts

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        c = self.config
        out = []
        for agent in in_scope(c.scope, facts.agents()):
            counted, since = self.count(self._observe(agent, facts, now), now)
            if counted <= c.max_count:
                continue
            what = " and ".join(x.replace("_", " ") for x in c.count)
            out.append(
                agent_finding(
                    agent,
                    f"agent:{agent.agent_id}",
                    f"{counted} {what} at {agent.line_id}/{agent.station_id} ({agent.agent_id}) since "
                    f"{since:%H:%M:%S} UTC (limit {c.max_count} in {c.window_s / 60:.0f} min): parts passed "
                    "the ejector without their verdict",
                    {
                        "count": counted,
                        "since": since.isoformat(),
                        "window_s": c.window_s,
                        "max_count": c.max_count,
                        **{
                            k: agent.heartbeat.get(k)
                            for k in ("late_rejects", "missed_parts", "parts_triggered")
                        },
                    },
                )
            )
        return out
