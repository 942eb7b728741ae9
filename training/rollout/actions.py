"""The rollout controller's transitions, one product at a time: start, enter a stage, judge, widen, finish,
roll back. Each transition is recorded (MLflow, via :class:`RolloutLedger`) before its deployment goes out,
and reported as a :class:`RolloutEvent` on the rollouts topic after."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from factoryloop.kafka import EventProducer
from factoryloop.schemas import Deployment, RolloutEvent, RolloutRequest, RolloutState, Strategy
from factoryloop.topics import TopicRole
from training.registry.models import CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout.fleet import FleetView, resolve_shadow_stages, resolve_stages
from training.rollout.ledger import Rollout, RolloutLedger
from training.rollout.policy import RolloutPolicy
from training.rollout.publish import deployment_for, publish
from training.rollout.shadow import ShadowWatch
from training.rollout.watch import CanaryPolicy, CanaryWatch, StageWatch

logger = logging.getLogger(__name__)


def canary_policy(policy: RolloutPolicy) -> CanaryPolicy:
    return CanaryPolicy(window_s=policy.window_s, **policy.judge.model_dump())


@dataclass
class Active:
    rollout: Rollout
    watch: StageWatch
    started: float  # monotonic start of the current stage's window
    policy: RolloutPolicy


class Transitions:
    def __init__(
        self,
        registry: ModelRegistry,
        fleet: FleetView,
        producer: EventProducer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.ledger = RolloutLedger(registry)
        self.fleet = fleet
        self.producer = producer
        self.clock = clock
        self.active: dict[str, Active] = {}

    # reporting ---------------------------------------------------------------------------------------------
    def emit(
        self,
        r: Rollout,
        state: RolloutState,
        reason: str,
        evidence: dict[str, float] | None = None,
        agents: tuple[str, ...] | None = None,
    ) -> RolloutEvent:
        event = RolloutEvent(
            rollout_id=r.rollout_id,
            product=r.product,
            model_name=r.version.name,
            model_version=r.version.version,
            previous_version=r.previous.version if r.previous else None,
            state=state,
            stage=r.stage,
            stages=len(r.stages),
            agents=r.agents if agents is None else agents,
            reason=reason[:4000],
            evidence=evidence or {},
            request_id=r.request_id,
            actor=r.actor,
        )
        self.producer.send_sync(TopicRole.ROLLOUTS, event, key=r.product)
        logger.info("rollout %s v%s: %s (%s)", r.product, r.version.version, state.value, reason)
        return event

    def refuse(
        self,
        req: RolloutRequest,
        version: RegisteredVersion | None,
        reason: str,
        state: RolloutState = RolloutState.REFUSED,
    ) -> None:
        """Answer a request that starts no rollout (refused, or held for an engineer)."""
        name = version.name if version else self.registry.name(req.product)
        event = RolloutEvent(
            rollout_id=uuid.uuid4().hex,
            product=req.product,
            model_name=name,
            model_version=(version.version if version else req.model_version or req.to_version or "?"),
            state=state,
            reason=reason[:4000],
            request_id=req.request_id,
            actor=req.requested_by,
        )
        self.producer.send_sync(TopicRole.ROLLOUTS, event, key=req.product)
        logger.warning("rollout request %s %s: %s", req.request_id, state.value, reason)

    # starting ----------------------------------------------------------------------------------------------
    def previous_of(self, product: str, version: RegisteredVersion, target: str) -> RegisteredVersion | None:
        """What to go back to: the version most of the product's agents serve now, else the champion, else the
        champion's own previous champion (the gate may already have moved ``champion`` to ``version``)."""
        serving = Counter(
            a.model_version
            for a in self.fleet.agents(product, target)
            if a.model_name == version.name and a.model_version and a.model_version != version.version
        )
        if serving:
            return self.registry.get(product, serving.most_common(1)[0][0])
        champion = self.registry.alias(product, CHAMPION)
        if champion is not None and champion.version != version.version:
            return champion
        back = (champion or version).tags.get("previous_champion")
        return self.registry.get(product, back) if back and back != version.version else None

    def start(self, req: RolloutRequest, version: RegisteredVersion, policy: RolloutPolicy) -> None:
        agents = self.fleet.agents(req.product, req.target)
        shadows = resolve_shadow_stages(policy, agents) if req.staged else []
        stages = [a for a, _ in shadows] + (resolve_stages(policy, agents) if req.staged else [()])
        r = Rollout(
            rollout_id=uuid.uuid4().hex,
            product=req.product,
            version=version,
            previous=self.previous_of(req.product, version, req.target),
            stages=tuple(stages),
            target=req.target,
            request_id=req.request_id,
            actor=req.requested_by,
            shadow_rates=tuple(rate for _, rate in shadows),
        )
        live = f"{len(agents)} agent(s) of {req.product} live"
        self.enter_stage(r, policy, f"{req.reason or 'requested'} ({live})")

    def enter_stage(
        self,
        r: Rollout,
        policy: RolloutPolicy,
        why: str,
        *,
        resumed: bool = False,
        passed: dict[str, float] | None = None,
    ) -> None:
        """Start stage ``r.stage``; ``passed``: the evidence of the stage before, kept with this one."""
        if r.last_stage:
            self.ledger.finish(r, RolloutState.FULL, why, passed or {})
            self._publish(r, Strategy.FULL, why)
            self.active.pop(r.product, None)
            everyone = tuple(a.agent_id for a in self.fleet.agents(r.product, r.target))
            self.emit(r, RolloutState.FULL, why, passed, agents=everyone)
            return
        if r.shadow:  # the challenger beside the champion on the stage's agents; the champion decides
            state = RolloutState.SHADOW
        else:
            state = RolloutState.CANARY if r.stage == r.first_canary else RolloutState.WIDENED
        self.ledger.save(r, state, passed)
        dep = self._publish(r, Strategy.SHADOW if r.shadow else Strategy.CANARY, why)
        self.active[r.product] = Active(r, self._watch(r, dep, policy, resumed), self.clock(), policy)
        self.emit(r, state, f"stage {r.stage + 1} of {len(r.stages)}: {why}", passed)

    @staticmethod
    def _watch(r: Rollout, dep: Deployment, policy: RolloutPolicy, resumed: bool) -> StageWatch:
        judge = canary_policy(policy)
        agents, version = frozenset(r.agents), r.version.version
        if r.shadow:
            return ShadowWatch(agents, version, dep.deployment_id, judge, model_name=r.version.name)
        # resumed: the agents already serve it (a restarted controller, or a wider stage than the first)
        resumed = resumed or r.stage > r.first_canary
        return CanaryWatch(
            agents, version, dep.deployment_id, judge, model_name=r.version.name, resumed=resumed
        )

    def _publish(self, r: Rollout, strategy: Strategy, why: str) -> Deployment:
        dep = deployment_for(
            r.version,
            target=r.target,
            strategy=strategy,
            canary_agents=r.agents if strategy in (Strategy.CANARY, Strategy.SHADOW) else (),
            shadow_sample_rate=r.shadow_rates[r.stage] if strategy is Strategy.SHADOW else 0.0,
            previous_version=r.previous.version if r.previous else None,
            reason=why,
            created_by=r.actor,
        )
        return publish(self.producer, dep)

    # judging -----------------------------------------------------------------------------------------------
    def tick(self) -> None:
        for product, a in list(self.active.items()):
            failures = a.watch.failures()
            if failures:
                self.roll_back(product, "; ".join(failures))
            elif self.clock() - a.started >= a.policy.window_s:
                problems = a.watch.problems()
                if problems:
                    self.roll_back(product, "; ".join(problems))
                else:
                    kind = "shadow agreed with the champion" if a.rollout.shadow else "healthy"
                    passed = f"stage {a.rollout.stage + 1} {kind} for {a.policy.window_s:.0f} s"
                    self.enter_stage(a.rollout.next_stage(), a.policy, passed, passed=a.watch.evidence())

    def roll_back(self, product: str, why: str, to: RegisteredVersion | None = None) -> None:
        """End the product's rollout in flight: every agent back to ``to`` (default: its previous). From a
        shadow stage the ``rollback`` deployment of the model the agents serve only ends the shadow."""
        a = self.active.pop(product)
        r, evidence = a.rollout, a.watch.evidence()
        back = to or r.previous
        if back is None:
            left = "the shadow agents keep running it in shadow" if r.shadow else "the canary agents keep it"
            self.ledger.finish(r, RolloutState.HALTED, f"{why}; nothing to go back to", evidence)
            self.emit(r, RolloutState.HALTED, f"{why}; no previous model to go back to ({left})", evidence)
            return
        dep = deployment_for(
            back,
            target=r.target,
            strategy=Strategy.ROLLBACK,
            previous_version=r.version.version,
            reason=f"v{r.version.version} rolled back: {why}",
            created_by=r.actor,
        )
        self.ledger.finish(r, RolloutState.ROLLED_BACK, why, evidence)
        if back is not r.previous:
            self.registry.set_alias(product, CHAMPION, back.version)
        publish(self.producer, dep)
        self.emit(r, RolloutState.ROLLED_BACK, why, evidence, agents=())

    def rollback_now(
        self, req: RolloutRequest, current: RegisteredVersion, to: RegisteredVersion, why: str
    ) -> None:
        """An engineer's rollback with no rollout in flight: every agent of the product back to ``to``."""
        r = Rollout(
            uuid.uuid4().hex, req.product, current, to, ((),), 0, req.target, req.request_id, req.requested_by
        )
        dep = deployment_for(
            to,
            target=req.target,
            strategy=Strategy.ROLLBACK,
            previous_version=current.version,
            reason=why,
            created_by=req.requested_by,
        )
        self.ledger.finish(r, RolloutState.ROLLED_BACK, why, {})
        publish(self.producer, dep)
        self.emit(r, RolloutState.ROLLED_BACK, why, agents=())
