"""The rollout controller: the one owner of each product's rollouts (``champion`` / ``canary`` aliases and the
deployments), run by the trainer service (``factoryloop train watch``).

It takes requests from two places: the gate (a promoted challenger: rolled out by itself when the product's
policy is ``auto``, held for an engineer when ``manual``) and the rollouts topic (``RolloutRequest`` from the
API, the dashboard and ``factoryloop train deploy|rollback``). Each rollout goes through the policy's canary
stages, judged on what the agents report (heartbeats, outcomes, reviews), then to every agent of the product,
or back to the previous model.

Leadership: requests are read in one consumer group from the one-partition rollouts topic; the trainer that
owns the partition acts, another one started by mistake waits (Kafka's group coordinator decides; a sticky
assignor keeps the partition where it is when a second trainer joins; a killed leader's partition moves after
the session timeout). A new leader resumes the rollouts left in flight (:class:`RolloutLedger`), restarting
the window of the stage they were in.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.schemas import Heartbeat, RolloutAction, RolloutRequest, RolloutState
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from training.errors import TrainingError
from training.registry.models import CHAMPION, ModelRegistry
from training.rollout.actions import Transitions
from training.rollout.fleet import FleetView
from training.rollout.join import join_watched
from training.rollout.policy import RolloutPolicies

logger = logging.getLogger(__name__)

GROUP = "rollout-controller"  # after the topic prefix: one group per installation sharing a cluster
WATCHED = (TopicRole.HEARTBEATS, TopicRole.OUTCOMES, TopicRole.LABELS)


class RolloutController:
    def __init__(
        self,
        kafka: KafkaSettings,
        registry: ModelRegistry,
        policies: RolloutPolicies,
        *,
        group_id: str | None = None,
        fleet_stale_s: float = 120.0,
        max_request_age_s: float = 3600.0,
        session_timeout_ms: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kafka = kafka
        self.registry = registry
        self.policies = policies
        self.group_id = group_id or f"{kafka.topics.prefix}{GROUP}"
        self.fleet = FleetView(fleet_stale_s, clock)
        self.max_request_age_s = max_request_age_s
        self.session_timeout_ms = session_timeout_ms
        self.clock = clock
        self.leader = threading.Event()
        self.ready = threading.Event()  # joined the topics: requests submitted now are acted on
        self.error: BaseException | None = None
        self._inbox: queue.Queue[tuple[RolloutRequest, bool]] = queue.Queue()
        self._t: Transitions | None = None
        self._resume_at: float | None = None  # when to look for rollouts left in flight (None: done)
        self._pending: list[RolloutRequest] = []  # taken from the topic, not carried out yet
        self._pending_offsets: dict[Any, Any] = {}

    # asking --------------------------------------------------------------------------------------------
    def promoted(self, product: str, version: str, reason: str) -> None:
        """The gate promoted ``version``: roll it out (policy ``auto``) or hold it (``manual``)."""
        self._inbox.put(
            (
                RolloutRequest(
                    request_id=f"gate-{product}-{version}-{int(time.time())}",
                    product=product,
                    action=RolloutAction.DEPLOY,
                    model_version=version,
                    requested_by="gate",
                    reason=reason[:1000],
                ),
                True,
            )
        )

    def submit(self, request: RolloutRequest) -> None:
        """Carry out ``request`` as if it came from the rollouts topic (tests, in-process callers)."""
        self._inbox.put((request, False))

    @property
    def in_flight(self) -> dict[str, str]:
        """Product -> version of every rollout in its canary stages (a snapshot)."""
        return {p: a.rollout.version.version for p, a in dict(self._t.active if self._t else {}).items()}

    # the loop ----------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        try:
            self._run(stop)
        except Exception as exc:  # thread boundary: the service raises it
            self.error = exc
            logger.exception("the rollout controller stopped")
        finally:
            self.leader.clear()

    def _run(self, stop: threading.Event) -> None:
        requests = TypedConsumer(
            self.kafka,
            [TopicRole.ROLLOUTS],
            self.group_id,
            auto_offset_reset="earliest",
            partition_assignment_strategy=[StickyPartitionAssignor],
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.session_timeout_ms // 4),
        )
        watched = TypedConsumer(self.kafka, WATCHED, None, auto_offset_reset="latest")
        try:
            with EventProducer(self.kafka) as producer:
                join_watched(watched, self.fleet.stale_s)
                self._t = Transitions(self.registry, self.fleet, producer, self.clock)
                self.ready.set()
                while not stop.is_set():
                    self._lead(requests)
                    for rec in watched.poll(timeout_ms=200):
                        self._observe(rec.event)
                    if self.leader.is_set():
                        self._resume()
                        if self._resume_at is None:
                            self._drain_requests(requests)
                            self._drain_inbox()
                            self._t.tick()
        finally:
            requests.close()
            watched.close()

    def _observe(self, event: object) -> None:
        if isinstance(event, Heartbeat):
            self.fleet.observe(event)
        assert self._t is not None
        for a in self._t.active.values():
            a.watch.observe(event)

    def _lead(self, requests: TypedConsumer) -> None:
        records = requests.poll(timeout_ms=200)
        leading = bool(requests.raw.assignment())
        if leading and not self.leader.is_set():
            logger.info("rollout controller: leading (this trainer owns the rollouts partition)")
            self.leader.set()
            self._resume_at = self.clock()
        elif not leading and self.leader.is_set():
            logger.warning("rollout controller: lost the rollouts partition to another trainer; standing by")
            self.leader.clear()
            self._resume_at = None
            self._pending, self._pending_offsets = [], {}
            assert self._t is not None
            self._t.active.clear()
        if records and self.leader.is_set():
            self._pending += [r.event for r in records if isinstance(r.event, RolloutRequest)]
            self._pending_offsets = requests.consumed_offsets()

    def _drain_requests(self, requests: TypedConsumer) -> None:
        """Carry out the topic's requests taken so far, then commit them (a crash before: asked again)."""
        while self._pending:
            self._handle(self._pending.pop(0), from_gate=False)
        if self._pending_offsets:
            requests.commit_offsets(self._pending_offsets)
            self._pending_offsets = {}

    def _drain_inbox(self) -> None:
        while True:
            try:
                request, from_gate = self._inbox.get_nowait()
            except queue.Empty:
                return
            self._handle(request, from_gate=from_gate)

    def _resume(self) -> None:
        """Once leading: take over the rollouts a previous trainer left in flight (retried while MLflow is
        unreachable; requests wait until then, so none acts on a product whose rollout is not resumed yet)."""
        if self._resume_at is None or self.clock() < self._resume_at:
            return
        assert self._t is not None
        if not self.registry.reachable():
            logger.warning(
                "MLflow (%s) does not answer: rollouts in flight not resumed yet; retrying in 30 s",
                self.registry.tracking_uri,
            )
            self._resume_at = self.clock() + 30.0
            return
        try:
            for product in self.registry.products():
                if product in self._t.active:
                    continue
                r = self._t.ledger.in_flight(product)
                if r is not None:
                    policy = self.policies.for_product(product)
                    self._t.enter_stage(r, policy, "resumed after a trainer restart", resumed=True)
        except TrainingError as exc:
            logger.warning("rollouts in flight not resumed yet (%s); retrying in 30 s", exc)
            self._resume_at = self.clock() + 30.0
            return
        self._resume_at = None

    # requests ------------------------------------------------------------------------------------------
    def _handle(self, req: RolloutRequest, *, from_gate: bool) -> None:
        assert self._t is not None
        try:
            if datetime.now(UTC) - req.ts > timedelta(seconds=self.max_request_age_s):
                self._t.refuse(
                    req,
                    None,
                    f"request made at {req.ts:%Y-%m-%d %H:%M} UTC, no trainer took it "
                    f"within {self.max_request_age_s:.0f} s; ask again",
                )
            elif req.action is RolloutAction.ROLLBACK:
                self._rollback(req)
            else:
                self._deploy(req, from_gate=from_gate)
        except TrainingError as exc:
            self._t.refuse(req, None, str(exc))

    def _deploy(self, req: RolloutRequest, *, from_gate: bool) -> None:
        assert self._t is not None
        t = self._t
        version = (
            self.registry.get(req.product, req.model_version)
            if req.model_version
            else self.registry.alias(req.product, CHAMPION)
        )
        if version is None:
            t.refuse(req, None, f"{self.registry.name(req.product)} has no champion: name a model_version")
            return
        busy = t.active.get(req.product)
        if busy is not None:
            b = busy.rollout
            t.refuse(
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
            t.refuse(req, version, held, RolloutState.HELD)
            return
        t.start(req, version, policy)

    def _rollback(self, req: RolloutRequest) -> None:
        assert self._t is not None
        t = self._t
        to = self.registry.get(req.product, req.to_version) if req.to_version else None
        who = f"rollback requested by {req.requested_by}" + (f": {req.reason}" if req.reason else "")
        if req.product in t.active:
            t.roll_back(req.product, who, to)
            return
        champion = self.registry.alias(req.product, CHAMPION)
        if to is None:
            back = champion.tags.get("previous_champion") if champion else None
            to = self.registry.get(req.product, back) if back else None
        if to is None or champion is None:
            name = self.registry.name(req.product)
            t.refuse(req, champion, f"{name}: nothing to roll back to; name to_version")
            return
        t.rollback_now(req, champion, to, who)


__all__ = ["GROUP", "RolloutController"]
