"""A stage in flight (:class:`Active`: the rollout at its stage, the stage's watch, its window) and what its
judgement calls for now (:func:`judge` -> :class:`Step`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from factoryloop.schemas import Deployment
from training.rollout.ledger import Rollout
from training.rollout.policy import RolloutPolicy
from training.rollout.shadow import ShadowWatch
from training.rollout.watch import CanaryPolicy, CanaryWatch, StageWatch


def canary_policy(policy: RolloutPolicy) -> CanaryPolicy:
    return CanaryPolicy(window_s=policy.window_s, **policy.judge.model_dump())


def stage_watch(r: Rollout, dep: Deployment, policy: RolloutPolicy, resumed: bool) -> StageWatch:
    """The watch of stage ``r.stage`` published as ``dep``; ``resumed``: its agents already serve it."""
    judge = canary_policy(policy)
    agents, version = frozenset(r.agents), r.version.version
    if r.shadow:
        return ShadowWatch(agents, version, dep.deployment_id, judge, model_name=r.version.name)
    # resumed: the agents already serve it (a restarted controller, or a wider stage than the first)
    resumed = resumed or r.stage > r.first_canary
    return CanaryWatch(agents, version, dep.deployment_id, judge, model_name=r.version.name, resumed=resumed)


@dataclass
class Active:
    rollout: Rollout
    watch: StageWatch
    started: float | None  # monotonic start of the stage's window (None: its deployment not acknowledged)
    policy: RolloutPolicy
    reported: dict[str, float] = field(default_factory=dict)  # the figures of the last progress event
    reported_at: float = 0.0
    relisten_since: float | None = None  # after a Kafka outage: the window waits for its agents to report

    def start(self, now: float) -> None:
        self.started = now

    def relisten(self, now: float) -> None:
        """Restart the window once one of the stage's agents reports again (at most ``window_s`` from now)."""
        if self.started is not None:
            self.started, self.relisten_since = None, now

    def heard(self, agent: str | None, now: float) -> None:
        """A heartbeat of ``agent`` (None: the clock only): the first of a stage agent after an outage, or
        ``window_s`` after it, starts the window again."""
        since = self.relisten_since
        if since is not None and (agent in self.rollout.agents or now - since >= self.policy.window_s):
            self.started, self.relisten_since = now, None


@dataclass(frozen=True)
class Step:
    """What a stage's judgement calls for: ``rollback`` (why), or the next stage (why, its evidence)."""

    product: str
    rollback: bool
    why: str
    passed: dict[str, float]

    def describe(self, r: Rollout) -> str:
        if self.rollback:
            return f"roll back v{r.version.version} ({self.why})"
        nxt = r.next_stage()
        where = "every agent" if nxt.last_stage else f"stage {nxt.stage + 1} of {len(r.stages)}"
        return f"take v{r.version.version} to {where} ({self.why})"


def judge(product: str, a: Active, now: float) -> Step | None:
    """A failure at any time, or the end of the window: problems -> roll back, none -> the next stage; None
    while the window runs (or before it starts: the stage's deployment is not acknowledged yet)."""
    if a.started is None:
        return None
    failures = a.watch.failures()
    if failures:
        return Step(product, True, "; ".join(failures), {})
    if now - a.started < a.policy.window_s:
        return None
    problems = a.watch.problems()
    if problems:
        return Step(product, True, "; ".join(problems), {})
    kind = "shadow agreed with the champion" if a.rollout.shadow else "healthy"
    passed = f"stage {a.rollout.stage + 1} {kind} for {a.policy.window_s:.0f} s"
    return Step(product, False, passed, a.watch.evidence())
