"""What a canary is judged on: heartbeats, agent events, outcomes and reviews of the canary agents, against
the champion (the other agents of the product, else the same agents before they switched)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from factoryloop.schemas import AgentEvent, AgentEventType, Heartbeat, Label, Outcome, ReviewAction, Verdict


@dataclass(frozen=True)
class CanaryPolicy:
    window_s: float = 300.0
    max_errors: int = 0  # new errors per canary agent during the window
    max_latency_p99_ms: float = 200.0
    max_latency_p99_ratio: float | None = None  # canary p99 / the same agent's p99 on the champion
    max_defect_rate_jump: float = 0.2  # FAIL rate of the canary model minus that of the champion
    max_override_rate: float = 0.3  # reviews that were not "confirm", among reviews of canary outcomes
    min_outcomes: int = 20
    min_reviews: int = 10
    # shadow stages (training.rollout.shadow.ShadowWatch): frames both the champion and the shadow judged
    max_disagreement: float | None = 0.2  # share of those frames whose verdicts differ
    max_missed_rate: float | None = 0.1  # share of the champion's FAIL frames the shadow does not fail
    min_shadow_frames: int = 50


class StageWatch(Protocol):
    """What the controller asks of a stage's watch: :class:`CanaryWatch`, or a shadow stage's
    :class:`training.rollout.shadow.ShadowWatch`."""

    def observe(self, event: object) -> None: ...

    def failures(self) -> list[str]: ...

    def problems(self) -> list[str]: ...

    def evidence(self) -> dict[str, float]: ...


def _rate(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class CanaryWatch:
    """Accumulates evidence about ``model_version`` served by ``agents``; :meth:`failures` (at any time) and
    :meth:`problems` (at the end of the window) judge it.

    ``model_name``: only the same model's outcomes on other agents are the champion's baseline (None: any).
    ``resumed``: the watch starts after the agents switched (a restarted controller): the first error count
    seen on the canary is the baseline, not zero.
    """

    agents: frozenset[str]
    model_version: str
    deployment_id: str
    policy: CanaryPolicy
    model_name: str | None = None
    resumed: bool = False
    errors_before: dict[str, int] = field(default_factory=dict)
    errors_now: dict[str, int] = field(default_factory=dict)
    serving: set[str] = field(default_factory=set)
    latency_p99: dict[str, float] = field(default_factory=dict)
    latency_before: dict[str, float] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    outcomes: dict[str, bool] = field(default_factory=dict)  # canary outcome id -> FAIL
    other: list[bool] = field(default_factory=list)  # the champion on the other agents
    before: list[bool] = field(default_factory=list)  # the champion on the canary agents, before the switch
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
            self._outcome(event)
        elif isinstance(event, Label) and event.outcome_event_id in self.outcomes:
            self.reviews[event.outcome_event_id] = event.action is not ReviewAction.CONFIRM

    def _outcome(self, event: Outcome) -> None:
        fail = event.verdict is Verdict.FAIL
        if event.agent_id in self.agents:
            if event.model.version == self.model_version:
                self.outcomes[event.event_id] = fail
            elif self.model_name in (None, event.model.name):
                self.before.append(fail)
        elif self.model_name in (None, event.model.name) and event.model.version != self.model_version:
            self.other.append(fail)

    def _heartbeat(self, hb: Heartbeat) -> None:
        agent = hb.agent_id
        on_canary = hb.model is not None and hb.model.version == self.model_version
        if not on_canary:
            self.errors_before[agent] = hb.errors  # errors counted before the switch do not count
            if hb.latency_p99_ms is not None:
                self.latency_before[agent] = hb.latency_p99_ms
            return
        if self.resumed and agent not in self.errors_before:
            self.errors_before[agent] = hb.errors
        self.serving.add(agent)
        self.errors_now[agent] = hb.errors
        if hb.latency_p99_ms is not None:
            self.latency_p99[agent] = hb.latency_p99_ms

    def baseline_fail_rate(self) -> float | None:
        """The champion's FAIL rate: on the other agents, else on the canary agents before the switch."""
        for values in (self.other, self.before):
            if len(values) >= self.policy.min_outcomes:
                return _rate(values)
        return None

    def failures(self) -> list[str]:
        """Problems that end the canary at once (each needs its minimum of evidence)."""
        p = self.policy
        out = [f"model rejected by {r}" for r in self.rejected]
        for agent, now in sorted(self.errors_now.items()):
            new = now - self.errors_before.get(agent, 0)
            if new > p.max_errors:
                out.append(f"{agent}: {new} errors since serving the canary (max {p.max_errors})")
        baseline = self.baseline_fail_rate()
        if len(self.outcomes) >= p.min_outcomes and baseline is not None:
            jump = _rate(list(self.outcomes.values())) - baseline
            if jump > p.max_defect_rate_jump:
                out.append(
                    f"defect rate {_rate(list(self.outcomes.values())):.2f} vs the champion's {baseline:.2f} "
                    f"(up {jump:.2f}, max {p.max_defect_rate_jump})"
                )
        if len(self.reviews) >= p.min_reviews:
            rate = _rate(list(self.reviews.values()))
            if rate > p.max_override_rate:
                out.append(f"override rate {rate:.2f} > {p.max_override_rate} (supervisors' reviews)")
        return out

    def problems(self) -> list[str]:
        """Everything wrong at the end of the window."""
        p = self.policy
        out = self.failures()
        missing = sorted(self.agents - self.serving)
        if missing:
            out.append(f"never reported serving the canary: {', '.join(missing)}")
        for agent, p99 in sorted(self.latency_p99.items()):
            before = self.latency_before.get(agent)
            if p99 > p.max_latency_p99_ms:
                out.append(f"{agent}: latency p99 {p99:.0f} ms > {p.max_latency_p99_ms:.0f} ms")
            elif p.max_latency_p99_ratio and before and p99 > p.max_latency_p99_ratio * before:
                out.append(
                    f"{agent}: latency p99 {p99:.0f} ms > {p.max_latency_p99_ratio:g} x the champion's "
                    f"{before:.0f} ms"
                )
        return out

    def evidence(self) -> dict[str, float]:
        """The numbers behind the judgement (recorded in MLflow and on the rollout event)."""
        ev: dict[str, float] = {
            "agents": float(len(self.agents)),
            "agents_serving": float(len(self.serving)),
            "canary_outcomes": float(len(self.outcomes)),
            "canary_fail_rate": round(_rate(list(self.outcomes.values())), 4),
            "reviews": float(len(self.reviews)),
            "override_rate": round(_rate(list(self.reviews.values())), 4),
            "new_errors": float(
                sum(max(0, n - self.errors_before.get(a, 0)) for a, n in self.errors_now.items())
            ),
            "rejections": float(len(self.rejected)),
        }
        baseline = self.baseline_fail_rate()
        if baseline is not None:
            ev["champion_fail_rate"] = round(baseline, 4)
        if self.latency_p99:
            ev["latency_p99_ms"] = round(max(self.latency_p99.values()), 1)
        if self.latency_before:
            ev["champion_latency_p99_ms"] = round(max(self.latency_before.values()), 1)
        return ev
