"""``agent_offline``: no heartbeat from an agent for ``after_s`` seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.alerts.rules.base import Facts, Finding, Rule, RuleConfigBase, agent_finding, in_scope


class AgentOfflineConfig(RuleConfigBase):
    type: Literal["agent_offline"] = "agent_offline"
    after_s: float = Field(default=60.0, gt=0, description="Silence after which an agent is offline.")


class AgentOfflineRule(Rule):
    config: AgentOfflineConfig

    def __init__(self, config: AgentOfflineConfig) -> None:
        self.config = config

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        out = []
        for agent in in_scope(self.config.scope, facts.agents()):
            silent_s = (now - agent.last_seen).total_seconds()
            if silent_s > self.config.after_s:
                out.append(
                    agent_finding(
                        agent,
                        f"agent:{agent.agent_id}",
                        f"agent {agent.agent_id} ({agent.line_id}/{agent.station_id}) has sent no heartbeat "
                        f"for {silent_s:.0f} s (limit {self.config.after_s:.0f} s)",
                        {
                            "last_seen": agent.last_seen.isoformat(),
                            "silent_s": round(silent_s, 1),
                            "after_s": self.config.after_s,
                        },
                    )
                )
        return out
