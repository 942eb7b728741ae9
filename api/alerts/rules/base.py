"""What every alert rule shares: its config fields (name, severity, cool-down, scope), the facts it reads
(:class:`Facts`: the database behind a small interface, so a rule is a pure function of facts and time) and
what it finds (:class:`Finding`: one subject, e.g. an agent or a line, whose condition holds now)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(Cfg):
    """Only these line / station / product (each optional; all given must match)."""

    line: Ident | None = None
    station: Ident | None = None
    product: Ident | None = None

    def matches(self, line_id: str | None, station_id: str | None, product: str | None) -> bool:
        return (
            (self.line is None or self.line == line_id)
            and (self.station is None or self.station == station_id)
            and (self.product is None or self.product == product)
        )


class RuleConfigBase(Cfg):
    """Fields of every rule; each rule type adds its own and ``type: Literal[...]``."""

    name: Ident = Field(description="Unique in the file; alerts are stored and listed under it.")
    severity: Severity = Severity.WARNING
    cooldown_s: float = Field(
        default=900.0,
        ge=0,
        description="After a firing, the same rule and subject do not fire again for this long.",
    )
    scope: Scope = Field(default_factory=Scope)


@dataclass(frozen=True, slots=True)
class AgentFact:
    """An agent's latest heartbeat as the sink stored it (``agents`` table)."""

    agent_id: str
    line_id: str
    station_id: str
    last_seen: datetime
    heartbeat: Mapping[str, Any]

    @property
    def product(self) -> str | None:
        value = self.heartbeat.get("product")
        return str(value) if value else None


@dataclass(frozen=True, slots=True)
class RollbackFact:
    """A rollout the controller rolled back (a ``rolled_back`` rollout event)."""

    product: str
    ts: datetime
    rollout_id: str | None
    model_version: str | None
    previous_version: str | None
    reason: str | None
    actor: str
    evidence: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CounterPoint:
    """One stored heartbeat's counters since the agent's start (``heartbeats`` table)."""

    ts: datetime
    uptime_s: float
    late_rejects: int
    missed_parts: int


# (line_id, station_id or "" when counted per line) -> verdict -> count
VerdictCounts = dict[tuple[str, str], dict[str, int]]


class Facts(Protocol):
    """What the rules read. ``api.alerts.facts.DbFacts`` reads the API database."""

    def agents(self) -> list[AgentFact]: ...

    def verdicts(
        self, since: datetime, until: datetime, *, by_station: bool, product: str | None
    ) -> VerdictCounts: ...

    def rollbacks(self, since: datetime) -> list[RollbackFact]: ...

    def counters(self, agent_id: str, since: datetime) -> list[CounterPoint]:
        """The agent's stored heartbeats since ``since`` that carry counters, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class Finding:
    """A subject whose condition holds: ``subject`` is unique within its rule (``agent:a1``, ``line:L1``)."""

    subject: str
    message: str
    evidence: dict[str, Any]
    line_id: str | None = None
    station_id: str | None = None
    agent_id: str | None = None
    product: str | None = None


class Rule(ABC):
    """One configured rule. ``evaluate`` returns every subject whose condition holds at ``now``; the
    evaluator opens, keeps or resolves alerts from that (and applies the cool-down)."""

    config: RuleConfigBase

    @abstractmethod
    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]: ...


def agent_finding(agent: AgentFact, subject: str, message: str, evidence: dict[str, Any]) -> Finding:
    return Finding(
        subject=subject,
        message=message,
        evidence=evidence,
        line_id=agent.line_id,
        station_id=agent.station_id,
        agent_id=agent.agent_id,
        product=agent.product,
    )


def in_scope(scope: Scope, agents: list[AgentFact]) -> list[AgentFact]:
    return [a for a in agents if scope.matches(a.line_id, a.station_id, a.product)]


def fresh(agent: AgentFact, now: datetime, max_age_s: float) -> bool:
    """The agent's latest heartbeat is recent enough to judge its contents (an offline agent's last report
    is the ``agent_offline`` rule's business, not a still-true camera or buffer problem)."""
    return (now - agent.last_seen).total_seconds() <= max_age_s
