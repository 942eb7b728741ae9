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

Outages (:mod:`training.rollout.outages`): while MLflow does not answer nothing is deployed but rollbacks
(journaled, recorded once it answers: :mod:`training.rollout.rollbacks`); the controller says what waits
(:attr:`RolloutController.waiting`, its log, a ``progress`` event). While Kafka does not answer nothing is
sent or judged; what was recorded goes out once it answers (:mod:`training.rollout.outbox`), the consumers
are opened again (:mod:`training.rollout.consumers`) and the stages in flight restart their window.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kafka.errors import KafkaError

from factoryloop.errors import FactoryloopError
from factoryloop.kafka import EventProducer, Received, TypedConsumer
from factoryloop.schemas import Heartbeat, RolloutRequest
from factoryloop.settings import KafkaSettings
from training.errors import RegistryError, TrainingError
from training.registry.models import ModelRegistry
from training.rollout.actions import Transitions
from training.rollout.consumers import closed, polled, reopened, requests_consumer, watched_consumer
from training.rollout.fleet import FleetView
from training.rollout.intake import Intake
from training.rollout.journal import RollbackJournal, default_journal_dir
from training.rollout.leadership import Leadership
from training.rollout.outages import KafkaProbe, Outage, mlflow_waits
from training.rollout.policy import RolloutPolicies
from training.rollout.requests import gate_request

logger = logging.getLogger(__name__)

GROUP = "rollout-controller"  # after the topic prefix: one group per installation sharing a cluster


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
        retry_s: float = 5.0,
        progress_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        journal_dir: Path | None = None,
    ) -> None:
        """``retry_s``: how often a server that does not answer is asked again (and Kafka probed while it
        does); ``progress_s``: how often a shadow stage reports its figures while it runs; ``journal_dir``:
        the rollbacks sent while MLflow does not answer (default: ``<trainer state dir>/rollout-journal``)."""
        self.journal = RollbackJournal(journal_dir or default_journal_dir(), registry.prefix)
        self.kafka = kafka
        self.registry = registry
        self.policies = policies
        self.group_id = group_id or f"{kafka.topics.prefix}{GROUP}"
        self.fleet = FleetView(fleet_stale_s, clock)
        self.max_request_age_s = max_request_age_s
        self.session_timeout_ms = session_timeout_ms
        self.progress_s = progress_s
        self.clock = clock
        self.leader = threading.Event()
        self.ready = threading.Event()  # joined the topics: requests submitted now are acted on
        self.error: BaseException | None = None
        self.waiting: dict[str, str] = {}  # product -> what its rollout (or request) waits for, while it does
        self.mlflow = Outage("MLflow", registry.tracking_uri, registry.reachable, retry_s, clock)
        self._probe = KafkaProbe(kafka)
        self.kafka_link = Outage("Kafka", kafka.bootstrap_servers, self._probe, retry_s, clock)
        self._next_kafka_probe = 0.0
        self._leadership = Leadership()
        self._consumers: tuple[TypedConsumer, TypedConsumer] = ()  # type: ignore[assignment]  # set by run
        self._reopen_due = False
        self._inbox: queue.Queue[tuple[RolloutRequest, bool]] = queue.Queue()
        self._t: Transitions | None = None
        self._requests: Intake | None = None
        self._resume_at: float | None = None  # when to look for rollouts left in flight (None: done)
        self._noted: dict[str, str] = {}  # product -> what its rollout waits to do, as last reported

    # asking --------------------------------------------------------------------------------------------
    def promoted(self, product: str, version: str, reason: str) -> None:
        """The gate promoted ``version``: roll it out (policy ``auto``) or hold it (``manual``)."""
        self._inbox.put((gate_request(product, version, reason), True))

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
            self._probe.close()

    def _run(self, stop: threading.Event) -> None:
        self._consumers = (
            requests_consumer(self.kafka, self.group_id, self.session_timeout_ms, self._leadership),
            watched_consumer(self.kafka, self.fleet.stale_s),
        )
        try:
            self.journal.load()  # JournalError: a file that does not parse stops the controller
            with EventProducer(self.kafka, max_block_ms=3000) as producer:
                self._t = Transitions(
                    self.registry, self.fleet, producer, self.journal, self.clock, self.progress_s
                )
                self._requests = Intake(self._t, self.registry, self.policies, self.max_request_age_s)
                self.ready.set()
                while not stop.is_set():
                    self._step()
        finally:
            for consumer in self._consumers:
                closed(consumer)

    def _reopen(self) -> None:
        """After a Kafka outage: both consumers opened again (the watched ones from where they were)."""
        assert self._requests is not None
        self._leadership.settled = False  # the new member's first rebalance says who leads
        self._requests.forget()  # read again from the committed offsets
        group, timeout_ms = self.group_id, self.session_timeout_ms
        self._consumers = reopened(self.kafka, group, timeout_ms, self._leadership, self._consumers)

    def _step(self) -> None:
        assert self._t is not None and self._requests is not None
        if self._reopen_due:
            try:
                self._reopen()
                self._reopen_due = False
            except (KafkaError, TrainingError, FactoryloopError) as exc:  # down again: tried again later
                self.kafka_link.mark_down(f"{type(exc).__name__}: {exc}")
                return
        requests, watched = self._consumers
        self._lead(requests, polled(requests, self.kafka_link))
        for rec in polled(watched, self.kafka_link):
            self._observe(rec.event)
        if not self._kafka_answers() or not self.leader.is_set() or not self._leadership.settled:
            return  # a rebalance in progress: nothing done until it says who leads
        if not self._t.outbox.flush():
            return
        if not self.mlflow.check():
            self._mlflow_down()
            return
        if self._mlflow_work() and not self.registry.reachable():  # before the client's minutes of retries
            self.mlflow.mark_down("its health check does not answer")
            self._mlflow_down()
            return
        try:
            self._t.unrecorded.record()  # before anything is resumed from MLflow's aliases
            self._resume()
            self._t.release_pending()
            if self._resume_at is None:
                self._requests.drain(self._consumers[0], self._inbox)
                for step in self._t.steps():
                    self._t.take(step)
        except RegistryError as exc:  # MLflow went away in the middle: nothing changed, tried again
            self.mlflow.mark_down(str(exc))
            self._mlflow_down()
            return
        self.waiting.clear()
        self._noted.clear()

    def _mlflow_work(self) -> bool:
        """Whether this round records something in MLflow: a resume, a request, or a stage to end."""
        assert self._t is not None and self._requests is not None
        if self._t.unrecorded.pending:
            return True
        if self._resume_at is not None:
            return self.clock() >= self._resume_at
        return bool(
            self._requests.pending() or not self._inbox.empty() or self._t.unreleased or self._t.steps()
        )

    def _observe(self, event: object) -> None:
        assert self._t is not None
        if isinstance(event, Heartbeat):
            self.fleet.observe(event)
            self._t.heard(event.agent_id)
        for a in self._t.active.values():
            a.watch.observe(event)

    def _kafka_answers(self) -> bool:
        """Probe Kafka every ``retry_s`` (an outage with nothing to send is noticed too); after an outage the
        stages in flight restart their window: they are judged on a full window of live evidence."""
        assert self._t is not None
        link = self.kafka_link
        if not link.is_down and self.clock() >= self._next_kafka_probe:
            self._next_kafka_probe = self.clock() + link.retry_s
            if not self._probe():
                link.mark_down(self._probe.error or "no answer")
        if link.is_down:
            was_down = link.clock() - (link.down_since or 0.0)
            if not link.check():
                for product, a in self._t.active.items():
                    self.waiting[product] = (
                        f"{link.describe()}: nothing is judged or sent; stage {a.rollout.stage + 1}'s "
                        "window restarts once it answers"
                    )
                return False
            self._t.restart_windows(f"Kafka did not answer for {was_down:.0f} s")
            self._reopen_due = True
            self.waiting.clear()
        return True

    def _mlflow_down(self) -> None:
        """MLflow does not answer: a stage that failed, or an engineer's rollback of a rollout in flight, goes
        out now (journaled; recorded once it answers); what waits for MLflow is said, per product: in
        :attr:`waiting`; in the log and a progress event when it changes."""
        assert self._t is not None and self._requests is not None
        down = self.mlflow.describe()
        self._t.roll_back_unrecorded(down)
        self._requests.roll_back_unrecorded(down)
        waits = mlflow_waits(down, self._t.steps(), self._t.active, self._requests.pending())
        waits |= self._t.unrecorded.waits(down)
        self.waiting = {product: text for product, (_, text) in waits.items()}
        for product, (what, text) in waits.items():
            if self._noted.get(product) != what:
                self._noted[product] = what
                logger.warning("rollout of %s: %s", product, text)
                self._t.note(product, text)

    def _lead(self, requests: TypedConsumer, records: list[Received]) -> None:
        assert self._t is not None and self._requests is not None
        leading, settled = self._leadership.owns, self._leadership.settled
        if leading and settled and not self.leader.is_set():
            logger.info("rollout controller: leading (this trainer owns the rollouts partition)")
            self.leader.set()
            self._resume_at = self.clock()
            self._t.unrecorded.replay(self.kafka)  # rollbacks sent before a restart, not acknowledged
        elif not leading and settled and self.leader.is_set():
            logger.warning("rollout controller: lost the rollouts partition to another trainer; standing by")
            self.leader.clear()
            self._resume_at = None
            self._requests.forget()
            self._t.active.clear()
        if records and self.leader.is_set():
            self._requests.took(
                [r.event for r in records if isinstance(r.event, RolloutRequest)], requests.consumed_offsets()
            )

    def _resume(self) -> None:
        """Once leading: take over the rollouts a previous trainer left in flight (requests wait until then,
        so none acts on a product whose rollout is not resumed yet); :class:`RegistryError`: MLflow down."""
        if self._resume_at is None or self.clock() < self._resume_at:
            return
        assert self._t is not None
        try:
            for product in self.registry.products():
                if product in self._t.active or product in self._t.unrecorded.pending:
                    continue  # journaled: rolled back, whatever MLflow's aliases say
                r = self._t.ledger.in_flight(product)
                if r is not None and r.ended is not None:
                    self._t.send_end(r)
                elif r is not None and not self._t.unrecorded.ended_elsewhere(r, self.kafka):
                    policy = self.policies.for_product(product)
                    self._t.enter_stage(r, policy, "resumed after a trainer restart", resumed=True)
        except RegistryError:
            raise
        except TrainingError as exc:
            logger.warning("rollouts in flight not resumed yet (%s); retrying in 30 s", exc)
            self._resume_at = self.clock() + 30.0
            return
        self._resume_at = None


__all__ = ["GROUP", "RolloutController"]
