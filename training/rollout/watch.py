"""What a canary is judged on: heartbeats, agent events, outcomes and reviews of the canary agents."""

from __future__ import annotations

from dataclasses import dataclass, field

from factoryloop.schemas import AgentEvent, AgentEventType, Heartbeat, Label, Outcome, ReviewAction, Verdict


@dataclass(frozen=True)
class CanaryPolicy:
    window_s: float = 300.0
    max_errors: int = 0  # new errors per canary agent during the window
    max_latency_p99_ms: float = 200.0
    max_defect_rate_jump: float = 0.2  # FAIL rate of the canary model minus that of the other models
    max_override_rate: float = 0.3  # reviews that were not "confirm", among reviews of canary outcomes
    min_outcomes: int = 20
    min_reviews: int = 10


@dataclass
class CanaryWatch:
    """Accumulates evidence about ``model_version`` served by ``agents``; :meth:`problems` judges it."""

    agents: frozenset[str]
    model_version: str
    deployment_id: str
    policy: CanaryPolicy
    errors_before: dict[str, int] = field(default_factory=dict)
    errors_now: dict[str, int] = field(default_factory=dict)
    serving: set[str] = field(default_factory=set)
    latency_p99: dict[str, float] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    outcomes: dict[str, bool] = field(default_factory=dict)  # canary outcome id -> FAIL
    other: list[bool] = field(default_factory=list)
    reviews: dict[str, bool] = field(default_factory=dict)  # canary outcome id -> overridden

    def observe(self, event: object) -> None:
        if isinstance(event, Heartbeat) and event.agent_id in self.agents:
            self._heartbeat(event)
        elif isinstance(event, AgentEvent) and event.agent_id in self.agents:
            if event.type is AgentEventType.MODEL_REJECTED and event.deployment_id in (
                None,
                self.deployment_id,
            ):
                self.rejected.append(f"{event.agent_id}: {event.detail}")
        elif isinstance(event, Outcome) and not event.shadow:
            if event.agent_id in self.agents and event.model.version == self.model_version:
                self.outcomes[event.event_id] = event.verdict is Verdict.FAIL
            elif event.agent_id not in self.agents:
                self.other.append(event.verdict is Verdict.FAIL)
        elif isinstance(event, Label) and event.outcome_event_id in self.outcomes:
            self.reviews[event.outcome_event_id] = event.action is not ReviewAction.CONFIRM

    def _heartbeat(self, hb: Heartbeat) -> None:
        agent = hb.agent_id
        on_canary = hb.model is not None and hb.model.version == self.model_version
        if not on_canary:
            self.errors_before[agent] = hb.errors  # errors counted before the switch do not count
            return
        self.serving.add(agent)
        self.errors_now[agent] = hb.errors
        if hb.latency_p99_ms is not None:
            self.latency_p99[agent] = hb.latency_p99_ms

    def failures(self) -> list[str]:
        """Problems that end the canary at once."""
        out = [f"model rejected by {r}" for r in self.rejected]
        for agent, now in sorted(self.errors_now.items()):
            new = now - self.errors_before.get(agent, 0)
            if new > self.policy.max_errors:
                out.append(f"{agent}: {new} errors since serving the canary (max {self.policy.max_errors})")
        return out

    def problems(self) -> list[str]:
        """Everything wrong at the end of the window."""
        out = self.failures()
        missing = sorted(self.agents - self.serving)
        if missing:
            out.append(f"never reported serving the canary: {', '.join(missing)}")
        for agent, p99 in sorted(self.latency_p99.items()):
            if p99 > self.policy.max_latency_p99_ms:
                out.append(f"{agent}: latency p99 {p99:.0f} ms > {self.policy.max_latency_p99_ms:.0f} ms")
        if len(self.outcomes) >= self.policy.min_outcomes and self.other:
            jump = sum(self.outcomes.values()) / len(self.outcomes) - sum(self.other) / len(self.other)
            if jump > self.policy.max_defect_rate_jump:
                out.append(
                    f"defect rate up by {jump:.2f} vs other agents (max {self.policy.max_defect_rate_jump})"
                )
        if self.reviews and len(self.reviews) >= self.policy.min_reviews:
            rate = sum(self.reviews.values()) / len(self.reviews)
            if rate > self.policy.max_override_rate:
                out.append(f"override rate {rate:.2f} > {self.policy.max_override_rate}")
        return out
