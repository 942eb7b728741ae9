"""The rollout requests the controller takes (the rollouts topic, and the gate's or a caller's in-process
ones) and how each is carried out: a deploy starts a rollout, a rollback ends one (or goes back with none in
flight), a request that cannot be carried out is refused with the reason.

A request is dropped only once carried out (or refused), and the topic's offsets are committed only then:
while MLflow does not answer (a :class:`RegistryError` while its health check fails) it stays, first in
line, and is carried out when MLflow answers; a crash before the commit has it asked again. Except an
engineer's rollback of a rollout in flight: carried out at once, journaled
(:mod:`training.rollout.rollbacks`); one read again (not committed yet) is not carried out twice."""

from __future__ import annotations

import logging
import queue
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.errors import KafkaError

from factoryloop.kafka import TypedConsumer
from factoryloop.schemas import RolloutAction, RolloutEvent, RolloutRequest, RolloutState
from factoryloop.topics import TopicRole
from training.errors import RegistryError, TrainingError
from training.registry.models import CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout.actions import Transitions
from training.rollout.policy import RolloutPolicies

logger = logging.getLogger(__name__)


class Intake:
    def __init__(
        self,
        transitions: Transitions,
        registry: ModelRegistry,
        policies: RolloutPolicies,
        max_request_age_s: float,
    ) -> None:
        self.t = transitions
        self.registry = registry
        self.policies = policies
        self.max_request_age_s = max_request_age_s
        self._pending: list[tuple[RolloutRequest, bool]] = []  # (request, from the gate), first in line first
        self._offsets: dict[Any, Any] = {}  # the topic's positions to commit once its requests are done
        self._done = transitions.unrecorded.request_ids()  # carried out while MLflow was down, not committed

    def took(self, requests: list[RolloutRequest], offsets: dict[Any, Any]) -> None:
        """Requests read from the topic (not carried out yet), and the positions after them."""
        self._pending += [(r, False) for r in requests]
        self._offsets = offsets

    def forget(self) -> None:
        """Leadership lost: the next leader reads them again (nothing committed)."""
        self._pending, self._offsets = [], {}

    def pending(self) -> list[RolloutRequest]:
        return [r for r, _ in self._pending]

    def _take(self, inbox: queue.Queue[tuple[RolloutRequest, bool]]) -> None:
        while True:
            try:
                self._pending.append(inbox.get_nowait())
            except queue.Empty:
                break

    def drain(self, consumer: TypedConsumer, inbox: queue.Queue[tuple[RolloutRequest, bool]]) -> None:
        """Carry out every request taken so far, then commit the topic's positions; a :class:`RegistryError`
        (MLflow does not answer) leaves the request first in line."""
        self._take(inbox)
        while self._pending:
            request, from_gate = self._pending[0]
            if request.request_id in self._done:
                logger.warning("rollout request %s: carried out while MLflow was down", request.request_id)
            else:
                self.handle(request, from_gate=from_gate)
            self._pending.pop(0)
        if self._offsets:
            try:
                consumer.commit_offsets(self._offsets)
            except KafkaError as exc:  # carried out; committed with the next batch (or asked again)
                logger.warning("rollout requests carried out but not committed yet: %r", exc)
                return
            self._offsets = {}
            self._done = set()

    def roll_back_unrecorded(self, down: str) -> None:
        """MLflow does not answer (``down``): an engineer's rollback (from the rollouts topic) of a rollout in
        flight to its previous version, first in line for its product, is carried out now (journaled); the
        others wait."""
        seen: set[str] = set()
        for item in list(self._pending):
            req = item[0]
            if req.product in seen:
                continue
            seen.add(req.product)
            a = self.t.active.get(req.product)
            if a is None or req.action is not RolloutAction.ROLLBACK or req.request_id in self._done:
                continue
            previous = a.rollout.previous
            if req.to_version not in (None, previous.version if previous else None) or self._stale(req):
                continue
            if self.t.roll_back(req.product, _who(req), unrecorded=down, request_id=req.request_id):
                self._pending.remove(item)
                self._done.add(req.request_id)

    def handle(self, req: RolloutRequest, *, from_gate: bool) -> None:
        try:
            if self._stale(req):
                self.refuse(
                    req,
                    None,
                    f"request made at {req.ts:%Y-%m-%d %H:%M} UTC, no trainer took it "
                    f"within {self.max_request_age_s:.0f} s; ask again",
                )
            elif req.action is RolloutAction.ROLLBACK:
                self._rollback(req)
            else:
                self._deploy(req, from_gate=from_gate)
        except RegistryError as exc:
            if not self.registry.reachable():
                raise  # MLflow is down: the request waits for it
            self.refuse(req, None, str(exc))
        except TrainingError as exc:
            self.refuse(req, None, str(exc))

    def _stale(self, req: RolloutRequest) -> bool:
        return datetime.now(UTC) - req.ts > timedelta(seconds=self.max_request_age_s)

    def _deploy(self, req: RolloutRequest, *, from_gate: bool) -> None:
        t = self.t
        version = (
            self.registry.get(req.product, req.model_version)
            if req.model_version
            else self.registry.alias(req.product, CHAMPION)
        )
        if version is None:
            self.refuse(req, None, f"{self.registry.name(req.product)} has no champion: name a model_version")
            return
        busy = t.active.get(req.product)
        if busy is not None:
            b = busy.rollout
            self.refuse(
                req,
                version,
                f"v{b.version.version} is rolling out (stage {b.stage + 1} of "
                f"{len(b.stages)}); roll it back or wait for it",
            )
            return
        policy = self.policies.for_product(req.product)
        if from_gate and policy.mode == "manual":
            self.registry.tag(req.product, version.version, {"rollout.decision": RolloutState.HELD.value})
            held = f"gate promoted v{version.version}; policy manual: ship it with `factoryloop train deploy`"
            self.refuse(req, version, held, RolloutState.HELD)
            return
        t.start(req, version, policy)

    def _rollback(self, req: RolloutRequest) -> None:
        t = self.t
        to = self.registry.get(req.product, req.to_version) if req.to_version else None
        who = _who(req)
        if req.product in t.active:
            t.roll_back(req.product, who, to)
            return
        champion = self.registry.alias(req.product, CHAMPION)
        if to is None:
            back = champion.tags.get("previous_champion") if champion else None
            to = self.registry.get(req.product, back) if back else None
        if to is None or champion is None:
            name = self.registry.name(req.product)
            self.refuse(req, champion, f"{name}: nothing to roll back to; name to_version")
            return
        t.rollback_now(req, champion, to, who)

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
        self.t.outbox.send(TopicRole.ROLLOUTS, event, req.product)
        logger.warning("rollout request %s %s: %s", req.request_id, state.value, reason)


def _who(req: RolloutRequest) -> str:
    return f"rollback requested by {req.requested_by}" + (f": {req.reason}" if req.reason else "")
