"""``buffer_full``: an agent's local buffer (records kept while Kafka is unreachable) above ``fraction`` of
its disk budget. The budget is the heartbeat's ``buffer_max_bytes`` when an agent reports one, else the
rule's ``budget_bytes`` (set it to the agents' ``buffer.max_bytes``; 1 GiB is the agent's default)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.alerts.rules.base import Facts, Finding, Rule, RuleConfigBase, agent_finding, fresh, in_scope


class BufferFullConfig(RuleConfigBase):
    type: Literal["buffer_full"] = "buffer_full"
    fraction: float = Field(default=0.8, gt=0, le=1, description="Fires above this share of the budget.")
    budget_bytes: int = Field(default=1024**3, ge=1024, description="The agents' buffer.max_bytes.")
    max_age_s: float = Field(default=120.0, gt=0, description="Only heartbeats this recent are judged.")


class BufferFullRule(Rule):
    config: BufferFullConfig

    def __init__(self, config: BufferFullConfig) -> None:
        self.config = config

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        out = []
        for agent in in_scope(self.config.scope, facts.agents()):
            if not fresh(agent, now, self.config.max_age_s):
                continue
            used = int(agent.heartbeat.get("buffer_bytes") or 0)
            budget = int(agent.heartbeat.get("buffer_max_bytes") or self.config.budget_bytes)
            share = used / budget
            if share > self.config.fraction:
                out.append(
                    agent_finding(
                        agent,
                        f"agent:{agent.agent_id}",
                        f"buffer of {agent.agent_id} ({agent.line_id}/{agent.station_id}) at {share:.0%} of "
                        f"its {budget / 1024**2:.0f} MiB budget (limit {self.config.fraction:.0%}): Kafka "
                        "unreachable from the agent? Records are evicted when it is full",
                        {
                            "buffer_bytes": used,
                            "budget_bytes": budget,
                            "fraction": round(share, 4),
                            "buffer_records": agent.heartbeat.get("buffer_records"),
                            "buffer_evicted": agent.heartbeat.get("buffer_evicted"),
                        },
                    )
                )
        return out
