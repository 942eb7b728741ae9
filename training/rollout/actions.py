"""The rollout controller's transitions, one product at a time: start, enter a stage, judge, widen, finish,
roll back. Each transition is recorded (MLflow, via :class:`RolloutLedger`) before anything changes here or
goes out: a :class:`~training.registry.RegistryError` leaves the rollout as it was, to be tried again; but a
rollback while MLflow does not answer goes out first, journaled (:mod:`training.rollout.rollbacks`). Its
deployment, then its :class:`RolloutEvent`, go out through the :class:`Outbox` (kept until Kafka acknowledges
them); a stage's window starts once its deployment is acknowledged."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable

from factoryloop.kafka import EventProducer
from factoryloop.schemas import Deployment, RolloutEvent, RolloutRequest, RolloutState, Strategy
from factoryloop.topics import TopicRole
from training.errors import TrainingError
from training.registry.models import CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout.events import rollout_event
from training.rollout.fleet import FleetView, asked_shadow_stages, resolve_shadow_stages, resolve_stages
from training.rollout.journal import RollbackJournal
from training.rollout.ledger import Rollout, RolloutLedger
from training.rollout.outbox import Outbox
from training.rollout.policy import RolloutPolicy
from training.rollout.publish import deployment_for, end_shadow, logged, rollback_to, signed
from training.rollout.rollbacks import UnrecordedRollbacks, plan_rollback
from training.rollout.stages import Active, Step, judge, stage_watch

logger = logging.getLogger(__name__)


class Transitions:
    def __init__(
        self,
        registry: ModelRegistry,
        fleet: FleetView,
        producer: EventProducer,
        journal: RollbackJournal,
        clock: Callable[[], float] = time.monotonic,
        progress_s: float = 15.0,
    ) -> None:
        self.registry = registry
        self.ledger = RolloutLedger(registry)
        self.fleet = fleet
        self.outbox = Outbox(producer)
        self.unrecorded = UnrecordedRollbacks(journal, self.ledger, self.outbox)
        self.clock = clock
        self.progress_s = progress_s  # how often a shadow stage's figures are reported while it runs
        self.active: dict[str, Active] = {}
        self.unreleased: list[Rollout] = []  # ended and sent, alias canary not removed yet (MLflow down)

    # reporting ---------------------------------------------------------------------------------------------
    def emit(
        self,
        r: Rollout,
        state: RolloutState,
        reason: str,
        evidence: dict[str, float] | None = None,
        agents: tuple[str, ...] | None = None,
        progress: bool = False,
    ) -> RolloutEvent:
        event = rollout_event(r, state, reason, evidence, agents, progress)
        self.outbox.send(TopicRole.ROLLOUTS, event, r.product)
        if not progress:
            logger.info("rollout %s v%s: %s (%s)", r.product, r.version.version, state.value, reason)
        return event

    def note(self, product: str, reason: str) -> None:
        """A progress event of the product's rollout in flight saying ``reason`` (e.g. what it waits for)."""
        a = self.active.get(product)
        if a is not None:
            state = self._state(a.rollout)
            self.emit(a.rollout, state, reason, a.watch.evidence(), progress=True)

    def _send(self, dep: Deployment, then: Callable[[], None] | None = None) -> None:
        dep = signed(dep)
        self.outbox.send(TopicRole.DEPLOYMENTS, dep, dep.compaction_key, then)
        logged(dep)

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
        if req.shadow is not None:  # an engineer's shadow stage instead of the policy's
            shadows = asked_shadow_stages(req.shadow, policy, agents, req.product)
        else:
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

    @staticmethod
    def _state(r: Rollout) -> RolloutState:
        if r.shadow:  # the challenger beside the champion on the stage's agents; the champion decides
            return RolloutState.SHADOW
        return RolloutState.CANARY if r.stage == r.first_canary else RolloutState.WIDENED

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
            dep = self._deployment(r, Strategy.FULL, why)
            self.ledger.finish(r, RolloutState.FULL, why, passed or {}, release=False)
            self.active.pop(r.product, None)
            self._send(dep, then=lambda: self._release(r))
            everyone = tuple(a.agent_id for a in self.fleet.agents(r.product, r.target))
            self.emit(r, RolloutState.FULL, why, passed, agents=everyone)
            return
        state = self._state(r)
        dep = self._deployment(r, Strategy.SHADOW if r.shadow else Strategy.CANARY, why)
        self.ledger.save(r, state, passed)
        a = Active(r, stage_watch(r, dep, policy, resumed), None, policy)
        self.active[r.product] = a
        self._send(dep, then=lambda: a.start(self.clock()))  # the window runs from the acknowledgement
        self.emit(r, state, f"stage {r.stage + 1} of {len(r.stages)}: {why}", passed)

    def _deployment(self, r: Rollout, strategy: Strategy, why: str) -> Deployment:
        """The stage's deployment; one after a shadow stage ends the shadow on the agents it leaves out."""
        return deployment_for(
            r.version,
            target=r.target,
            strategy=strategy,
            canary_agents=r.agents if strategy in (Strategy.CANARY, Strategy.SHADOW) else (),
            shadow_sample_rate=r.shadow_rates[r.stage] if strategy is Strategy.SHADOW else 0.0,
            ends_shadow=0 < r.stage <= r.first_canary,
            previous_version=r.previous.version if r.previous else None,
            reason=why,
            created_by=r.actor,
        )

    # judging -----------------------------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        """What each stage in flight calls for now; a shadow stage that goes on reports its figures."""
        out = []
        self.heard(None)  # windows waiting for their agents after an outage start at most window_s later
        for product, a in self.active.items():
            step = judge(product, a, self.clock())
            if step is not None:
                out.append(step)
            elif a.rollout.shadow and a.started is not None:
                self._progress(a)
        return out

    def take(self, step: Step) -> None:
        a = self.active[step.product]
        if step.rollback:
            self.roll_back(step.product, step.why)
        else:
            self.enter_stage(a.rollout.next_stage(), a.policy, step.why, passed=step.passed)

    def _progress(self, a: Active) -> None:
        """The shadow stage's figures so far, every ``progress_s`` when they changed (the dashboard shows them
        against the limits)."""
        if self.clock() - a.reported_at < self.progress_s:
            return
        a.reported_at = self.clock()
        evidence = a.watch.evidence()
        if evidence != a.reported:
            a.reported = evidence
            r = a.rollout
            self.emit(r, RolloutState.SHADOW, f"stage {r.stage + 1} of {len(r.stages)}: so far", evidence,
                      progress=True)  # fmt: skip

    def restart_windows(self, why: str) -> None:
        """Each stage in flight gets a new full window from its agents' first heartbeat (they reconnect and
        send what they buffered), or ``window_s`` from now at most; the evidence so far is kept."""
        for a in self.active.values():
            a.relisten(self.clock())
            r = a.rollout
            logger.warning("rollout %s v%s: stage %d's window restarts (%s)", r.product, r.version.version,
                           r.stage + 1, why)  # fmt: skip

    def heard(self, agent: str | None) -> None:
        for a in self.active.values():
            a.heard(agent, self.clock())

    def roll_back(
        self,
        product: str,
        why: str,
        to: RegisteredVersion | None = None,
        *,
        unrecorded: str | None = None,
        request_id: str | None = None,
    ) -> bool:
        """End the product's rollout in flight (:func:`plan_rollback`). ``unrecorded``: MLflow does not answer
        (what it says): journaled, sent, recorded once it answers (``request_id``: the engineer's request);
        False when not (nothing to send, or no journal): it waits for MLflow."""
        a = self.active[product]
        r, evidence = a.rollout, a.watch.evidence()
        plan = plan_rollback(r, why, to)
        if unrecorded is not None:
            said = f"{plan.said}; sent before MLflow recorded it ({unrecorded}): recorded once it answers"
            event = rollout_event(r, plan.state, said, evidence, agents=())
            if plan.deployment is None or not self.unrecorded.carry_out(r, plan, evidence, event, request_id):
                return False
            self.active.pop(product)
            return True
        back_to = plan.back.version if plan.back else None
        self.ledger.finish(
            r, plan.state, plan.reason, evidence, back_to=back_to, release=plan.deployment is None
        )
        if plan.back is not None and plan.back is not r.previous:
            self.registry.set_alias(product, CHAMPION, plan.back.version)
        self.active.pop(product)
        if plan.deployment is not None:
            self._send(plan.deployment, then=lambda: self._release(r))
        self.emit(r, plan.state, plan.said, evidence, agents=() if plan.deployment else None)
        return True

    def roll_back_unrecorded(self, down: str) -> None:
        """MLflow does not answer (``down`` says so): each stage that failed is rolled back now, journaled."""
        for step in self.steps():
            if step.rollback:
                self.roll_back(step.product, step.why, unrecorded=down)

    def rollback_now(
        self, req: RolloutRequest, current: RegisteredVersion, to: RegisteredVersion, why: str
    ) -> None:
        """An engineer's rollback with no rollout in flight: every agent of the product back to ``to``."""
        r = Rollout(
            uuid.uuid4().hex, req.product, current, to, ((),), 0, req.target, req.request_id, req.requested_by
        )
        dep = rollback_to(to, req.target, current.version, why, req.requested_by)
        self.ledger.finish(r, RolloutState.ROLLED_BACK, why, {}, back_to=to.version)
        self._send(dep)
        self.emit(r, RolloutState.ROLLED_BACK, why, agents=())

    # ending ------------------------------------------------------------------------------------------------
    def _release(self, r: Rollout) -> None:
        """Its last deployment is acknowledged: nothing of it is in flight (retried while MLflow is down)."""
        try:
            self.ledger.release(r)
        except TrainingError as exc:
            logger.warning(
                "rollout %s v%s: alias canary not removed yet (%s)", r.product, r.version.version, exc
            )
            self.unreleased.append(r)

    def release_pending(self) -> None:
        while self.unreleased:
            self.ledger.release(self.unreleased[0])  # RegistryError: MLflow is down again, kept
            self.unreleased.pop(0)

    def send_end(self, r: Rollout) -> None:
        """A rollout a previous trainer ended (recorded) whose last deployment may not have gone out: send it
        again (the agents that have it ignore it), then remove alias ``canary``."""
        why = f"sent again after a trainer restart: {r.ended} recorded in MLflow"
        if r.ended is RolloutState.FULL:
            dep: Deployment | None = self._deployment(r, Strategy.FULL, why)
        elif r.ended is RolloutState.ROLLED_BACK and r.back_to:
            back = self.registry.get(r.product, r.back_to)
            dep = rollback_to(
                back, r.target, r.version.version, f"v{r.version.version} rolled back; {why}", r.actor
            )
        elif r.ended is RolloutState.ROLLED_BACK:
            dep = end_shadow(r.version, r.target, f"v{r.version.version} shadow ended; {why}", r.actor)
        else:
            dep = None  # halted: nothing was to be sent
        logger.warning("rollout %s v%s: %s", r.product, r.version.version, why)
        if dep is None:
            self._release(r)
        else:
            self._send(dep, then=lambda: self._release(r))
