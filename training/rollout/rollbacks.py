"""Rolling back a rollout in flight: what goes out (:func:`plan_rollback`), and the rollbacks sent while
MLflow did not answer (:class:`UnrecordedRollbacks`).

A rollback is never held by MLflow: while it does not answer the controller writes the rollback to the
:class:`RollbackJournal` (local disk, durable), then sends its deployment and its event through the outbox,
and records it in MLflow once MLflow answers (then forgets it). Widening and going to every agent still wait
for MLflow: they are recorded before they are sent. A controller restarted with an entry in its journal sends
it again if Kafka had not acknowledged it (when nothing went to those agents since; else once MLflow shows its
rollout still in flight) and does not resume that rollout from MLflow's aliases. Nor does a new leader on
another machine (the journal left behind): it finds the rollback on the deployments topic
(:meth:`UnrecordedRollbacks.ended_elsewhere`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from factoryloop.schemas import Deployment, RolloutEvent, RolloutState, Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.errors import JournalError, RegistryError, RolloutError
from training.registry.models import CHAMPION, RegisteredVersion
from training.rollout.deployed import latest_deployments
from training.rollout.events import rollout_event
from training.rollout.journal import RollbackJournal, Unrecorded
from training.rollout.ledger import ENDED, Rollout, RolloutLedger
from training.rollout.outbox import Outbox
from training.rollout.publish import end_shadow, logged, rollback_to, signed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RollbackPlan:
    state: RolloutState  # rolled_back, or halted (nothing to go back to: nothing sent)
    reason: str  # recorded (tag rollout.reason)
    said: str  # on the event
    deployment: Deployment | None
    back: RegisteredVersion | None  # the version the agents go back to (None: none)


def plan_rollback(r: Rollout, why: str, to: RegisteredVersion | None) -> RollbackPlan:
    """Every agent back to ``to`` (default: the rollout's previous). From a shadow stage the ``rollback``
    deployment of the model the agents serve only ends the shadow; with no model to go back to, an
    ``end_shadow`` does; a canary with none is halted (its agents keep it)."""
    back, v = to or r.previous, r.version.version
    if back is None and r.shadow:
        ended = f"{why}; the shadow ended (no agent served v{v}; none to go back to)"
        dep = end_shadow(r.version, r.target, f"v{v} shadow ended: {why}", r.actor)
        return RollbackPlan(RolloutState.ROLLED_BACK, ended, ended, dep, None)
    if back is None:
        said = f"{why}; no previous model to go back to (the canary agents keep it)"
        return RollbackPlan(RolloutState.HALTED, f"{why}; nothing to go back to", said, None, None)
    dep = rollback_to(back, r.target, v, f"v{v} rolled back: {why}", r.actor)
    return RollbackPlan(RolloutState.ROLLED_BACK, why, why, dep, back)


def _when(iso: str) -> datetime:
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        when = datetime.min
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _newest(latest: dict[str, Deployment], model: str, target: str) -> Deployment | None:
    """The newest deployment of ``model`` to ``target``."""
    mine = [d for d in latest.values() if (d.model_name, d.target) == (model, target)]
    return max(mine, key=lambda d: d.ts, default=None)


class UnrecordedRollbacks:
    """The rollbacks sent before MLflow recorded them; the journal holds them (one per product)."""

    def __init__(
        self, journal: RollbackJournal, ledger: RolloutLedger, outbox: Outbox, max_age_s: float = 3600.0
    ) -> None:
        self.journal = journal
        self.ledger = ledger
        self.outbox = outbox
        self.max_age_s = max_age_s  # an end_shadow recorded before a crash is sent again within it
        self._sending: set[str] = set()  # rollout ids whose deployment waits in the outbox
        self._again: set[str] = set()  # recorded; the deployment sent once more waits in the outbox

    @property
    def pending(self) -> dict[str, Unrecorded]:
        return self.journal.pending

    def request_ids(self) -> set[str]:
        """The engineers' rollback requests carried out (their topic offsets maybe not committed yet)."""
        return {u.request_id for u in self.pending.values() if u.request_id}

    def carry_out(
        self,
        r: Rollout,
        plan: RollbackPlan,
        evidence: dict[str, float],
        event: RolloutEvent,
        request_id: str | None = None,
    ) -> bool:
        """Journal the rollback, then send it; False (nothing sent) when the journal cannot be written."""
        assert plan.deployment is not None
        u = Unrecorded(
            product=r.product,
            rollout_id=r.rollout_id,
            version=r.version.version,
            reason=plan.reason,
            evidence=evidence,
            back_to=plan.back.version if plan.back else None,
            ended=datetime.now(UTC).isoformat(timespec="seconds"),
            deployment=signed(plan.deployment),
            event=event,
            request_id=request_id,
        )
        try:
            self.journal.write(u)
        except JournalError as exc:
            logger.error(
                "rollout %s v%s: not rolled back until MLflow answers: %s", r.product, u.version, exc
            )
            return False
        logger.warning(
            "rollout %s v%s: rolled back before MLflow recorded it (%s); journaled in %s",
            r.product,
            u.version,
            plan.reason,
            self.journal.path(r.product),
        )
        self._send(u)
        return True

    def _send(self, u: Unrecorded) -> None:
        self._sending.add(u.rollout_id)
        dep = u.deployment
        self.outbox.send(TopicRole.DEPLOYMENTS, dep, dep.compaction_key, then=lambda: self._sent(u))
        logged(dep)
        self.outbox.send(TopicRole.ROLLOUTS, u.event, u.product)

    def _sent(self, u: Unrecorded) -> None:
        self._sending.discard(u.rollout_id)
        now = self.pending.get(u.product)
        if now is None or now.rollout_id != u.rollout_id or now.sent:
            return
        try:
            self.journal.write(replace(now, sent=True))
        except JournalError as exc:  # a restarted controller sends it again: the agents ignore it
            logger.warning(
                "rollout %s v%s: acknowledged, not journaled as sent: %s", u.product, u.version, exc
            )

    def replay(self, kafka: KafkaSettings) -> None:
        """Leading (again): each rollback Kafka did not acknowledge is sent again when nothing went to its
        model's agents since it was made (the deployments topic says; an agent that has it ignores it); else,
        or when the topic cannot be read, once MLflow shows its rollout still in flight."""
        unsent = [u for u in self.pending.values() if not u.sent and u.rollout_id not in self._sending]
        if not unsent:
            return
        try:
            latest = latest_deployments(kafka)
        except RolloutError as exc:
            logger.warning("journaled rollbacks not sent again until MLflow answers: %s", exc)
            return
        for u in unsent:
            newest = _newest(latest, u.deployment.model_name, u.deployment.target)
            if newest is None or newest.ts <= u.deployment.ts:
                logger.warning("rollout %s v%s: journaled rollback sent again", u.product, u.version)
                self._send(u)

    def record(self) -> None:
        """MLflow answers: record each rollback Kafka acknowledged, send it once more, then forget it (one not
        acknowledged yet is sent first; one MLflow shows recorded is sent again while ``champion`` is still
        the version it goes back to; one another trainer carried on from is dropped); :class:`RegistryError`
        while MLflow does not answer."""
        for product, u in list(self.pending.items()):
            if u.rollout_id in self._again:
                continue
            standing = self._standing(u)
            if standing == "in flight" and not u.sent:
                if u.rollout_id not in self._sending:
                    self._send(u)
            elif standing == "in flight":
                self.ledger.finish_late(u)
                logger.warning(
                    "rollout %s v%s: the rollback sent at %s is recorded", product, u.version, u.ended
                )
                self._send_again(u)
            elif standing == "recorded" and self._still_so(u):  # recorded before a crash: sent again
                self._send_again(u)
            else:
                self.journal.clear(product)

    def _send_again(self, u: Unrecorded) -> None:
        """Recorded: its deployment once more (a new id), then the entry goes. An agent that could not fetch
        the model while MLflow did not answer (MLflow serving the artifacts) gets it now; one that serves it
        ignores it. A crash before Kafka acknowledges it leaves the entry: recorded (again) and sent again."""
        self._again.add(u.rollout_id)
        again = u.deployment.model_copy(
            update={"deployment_id": uuid.uuid4().hex, "ts": datetime.now(UTC), "signature": None}
        )
        dep = signed(again)
        self.outbox.send(TopicRole.DEPLOYMENTS, dep, dep.compaction_key, then=lambda: self._done(u))
        logged(dep)

    def _done(self, u: Unrecorded) -> None:
        self._again.discard(u.rollout_id)
        now = self.pending.get(u.product)
        if now is None or now.rollout_id != u.rollout_id:
            return
        try:
            self.journal.clear(u.product)
        except JournalError as exc:  # recorded; a restarted controller records it and sends it again
            logger.error("rollout %s v%s: %s", u.product, u.version, exc)

    def ended_elsewhere(self, r: Rollout, kafka: KafkaSettings) -> bool:
        """A rollout MLflow shows in flight, about to be resumed by a new leader: whether the newest
        deployment of its model and target rolled it back after its stage started (sent while MLflow did not
        answer by a trainer gone since, its journal with it). Then it is recorded so, sent once more, not
        resumed."""
        v = r.version.version
        dep = _newest(latest_deployments(kafka), r.version.name, r.target)
        if dep is None or r.stage_started is None or dep.ts < _when(r.stage_started):
            return False
        rolled_back = dep.strategy is Strategy.ROLLBACK and dep.previous_version == v
        if not rolled_back and not (dep.strategy is Strategy.END_SHADOW and dep.model_version == v):
            return False
        why = f"{dep.reason or 'rolled back'} (sent while MLflow did not answer; recorded by the next leader)"
        u = Unrecorded(
            product=r.product,
            rollout_id=r.rollout_id,
            version=v,
            reason=why,
            evidence={},
            back_to=dep.model_version if rolled_back else None,
            ended=dep.ts.isoformat(timespec="seconds"),
            deployment=dep,
            event=rollout_event(r, RolloutState.ROLLED_BACK, why, agents=()),
            sent=True,
        )
        logger.warning("rollout %s v%s: not resumed: the deployments topic shows it %s", r.product, v, why)
        self.ledger.finish_late(u)
        self._send_again(u)
        return True

    def _standing(self, u: Unrecorded) -> str:
        """What MLflow shows of the journaled rollout: ``in flight`` in the stage it left (not resumed by
        another trainer since), ``recorded`` rolled back, or ``other`` (ended otherwise, another rollout)."""
        registry = self.ledger.registry
        try:
            tags = registry.get(u.product, u.version).tags
        except RegistryError as exc:
            if not registry.reachable():
                raise
            logger.warning("rollout %s v%s: journaled rollback dropped: %s", u.product, u.version, exc)
            return "other"
        state, same = tags.get("rollout.state"), tags.get("rollout.id") == u.rollout_id
        if same and state not in ENDED and _when(tags.get("rollout.stage_started", "")) <= _when(u.ended):
            return "in flight"
        if same and state == RolloutState.ROLLED_BACK.value:
            return "recorded"
        logger.warning(
            "rollout %s v%s: journaled rollback (%s) dropped: MLflow shows rollout %s %s (stage started %s): "
            "another trainer carried on",
            u.product,
            u.version,
            u.ended,
            tags.get("rollout.id"),
            state,
            tags.get("rollout.stage_started"),
        )
        return "other"

    def _still_so(self, u: Unrecorded) -> bool:
        """Recorded already: whether sending it again still fits (``champion`` is the version it goes back to;
        an ``end_shadow`` made within ``max_age_s``)."""
        if u.back_to is None:
            return (datetime.now(UTC) - _when(u.ended)).total_seconds() <= self.max_age_s
        champion = self.ledger.registry.alias(u.product, CHAMPION)
        return champion is not None and champion.version == u.back_to

    def waits(self, down: str) -> dict[str, tuple[str, str]]:
        """Product -> (what waits, the text), as :func:`~training.rollout.outages.mlflow_waits` says it."""
        out: dict[str, tuple[str, str]] = {}
        for product, u in self.pending.items():
            back = f"its agents sent back to v{u.back_to}" if u.back_to else "its shadow ended"
            state = "sent" if u.sent else "not acknowledged by Kafka yet"
            where = self.journal.path(product)
            text = (
                f"{down}: v{u.version} rolled back ({back}; {state}; journaled in {where}); waiting for it "
            )
            out[product] = (f"journal/{u.rollout_id}", text + "to record the rollback")
        return out
