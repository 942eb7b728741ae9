"""The trainer service (``factoryloop train watch``): ingest + triggers + one retrain at a time per product +
the rollout controller, the one owner of each product's rollouts (training.rollout.controller).

Threads: the ingest consumer keeps the dataset store current and hands each stored batch's events to the
triggers (drift, override rate); the trigger checker evaluates the triggers every ``check_every_s`` (the
``new_labels`` trigger counts the reviews in the store, so it never fires before they are stored) and
queues retrains; optionally an API poller claims jobs engineers queued with ``POST /api/v1/retrains``; the
calling thread runs the queued retrains (fine-tune from the champion, or the recipe's model for a product's
first model) and gates each one. A promoted challenger goes to the rollout controller, which ships it through
the product's canary stages (policy ``auto``) or holds it for an engineer (``manual``); the controller also
carries out the deploy and rollback requests of the API and of ``factoryloop train deploy|rollback``.

Two trainers started by mistake: the one whose controller owns the rollouts partition acts; the other waits
(no ingest, no retrain) until the first goes away.

What survives a restart: the review counts and marks (the dataset store), the retrain queue - waiting
requests, and a retrain that was running, queued again - and the schedule's last runs
(``<state_dir>/trainer-state.sqlite``), the ingest's offsets (Kafka). The drift triggers' windows start
empty again. A rollout in its canary stages (MLflow: alias ``canary`` and its tags) is resumed.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from training.datasets import DatasetStore
from training.errors import TrainingError, TrainingStopped
from training.ingest import Ingestor
from training.ingest.metrics import IngestCollector
from training.metrics import TrainerMetrics, TrainerStateCollector, failure_reason
from training.pipeline import RetrainOutcome, retrain
from training.registry import CHAMPION, ModelRegistry
from training.rollout.controller import RolloutController
from training.rollout.policy import RolloutPolicies, default_policies
from training.settings import TrainSettings
from training.triggers import (
    RetrainQueue,
    RetrainReport,
    RetrainRequest,
    RetrainWorker,
    TrainerState,
    TriggerChecker,
    TriggerEvaluator,
    TriggersConfig,
    build_triggers,
    state_path,
)
from training.triggers.api_jobs import ApiJobsError, ApiJobSource
from training.triggers.watcher import utcnow

logger = logging.getLogger(__name__)


def retrain_product(
    product: str, store: DatasetStore, settings: TrainSettings, *, reason: str, **overrides: Any
) -> RetrainOutcome:
    """Fine-tune from the product's champion when it has one, else train the recipe's model; then gate."""
    registry = ModelRegistry(settings.mlflow_tracking_uri, settings.registered_model_prefix)
    champion = registry.alias(product, CHAMPION)
    if champion is None or "model" in overrides:
        return retrain(product, store, settings, reason=reason, **overrides)
    with tempfile.TemporaryDirectory(prefix="fl-champion-") as tmp:
        folder = registry.download(champion, Path(tmp))
        pt = str(folder / "model.pt")
        return retrain(product, store, settings, reason=reason, model=pt, **overrides)


def describe(out: RetrainOutcome) -> str:
    m = out.train.metrics
    text = f"v{out.version.version}: mAP50 {m.get('mAP50', 0.0):.3f}, mAP50-95 {m.get('mAP50-95', 0.0):.3f}"
    if out.decision is not None:
        text += f"; gate {'PROMOTED' if out.decision.promote else 'REFUSED'} - {out.decision.reason}"
    return text


class TrainerService:
    def __init__(
        self,
        store: DatasetStore,
        settings: TrainSettings,
        triggers: TriggersConfig,
        *,
        api: ApiJobSource | None = None,
        run: Callable[[RetrainRequest], str] | None = None,
        policies: RolloutPolicies | None = None,
        controller: RolloutController | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        """``policies``: the rollout policies (default: ``default_policies(settings)``); ``controller``: one
        built by the caller (tests: a short session timeout); ``registry``: where the trainer's and the
        ingest's metrics go (``factoryloop train watch`` serves it on its metrics port; default: a new one,
        :attr:`metrics` ``.registry``)."""
        self.metrics = TrainerMetrics(registry)
        self.store = store
        self.settings = settings
        self.state = TrainerState(state_path(settings.state_dir))
        self.queue = RetrainQueue(self.state)  # reloads what a previous trainer left queued or running
        built = build_triggers(triggers, utcnow(), store=store, state=self.state)
        self.evaluator = TriggerEvaluator(built, self.queue)
        self.metrics.prime([t.name for t in built] + ["api", "multiple"])  # "multiple": requests merged
        self.checker = TriggerChecker(self.evaluator, check_every_s=triggers.check_every_s)
        self.ingestor = Ingestor(
            store,
            settings.kafka,
            pseudo_min_confidence=settings.pseudo_label_min_confidence,
            on_batch=self.evaluator.observe_all,
        )
        self.api = api
        self.worker = RetrainWorker(self.queue, self._measured(run or self._retrain), on_done=self._done)
        self.errors: dict[str, BaseException] = {}
        self._stop = threading.Event()
        self.controller = controller or RolloutController(
            settings.kafka,
            ModelRegistry(settings.mlflow_tracking_uri, settings.registered_model_prefix),
            policies or default_policies(settings),
            journal_dir=settings.state_dir / "rollout-journal",
        )
        self.metrics.registry.register(TrainerStateCollector(self.queue, self.controller))
        self.metrics.registry.register(IngestCollector(self.ingestor))

    def _guard(self, name: str, target: Callable[[], object]) -> Callable[[], None]:
        def body() -> None:
            try:
                target()
            except Exception as exc:  # thread boundary: keep it for run() to raise, log it
                self.errors[name] = exc
                logger.exception("%s stopped", name)

        return body

    def _measured(self, run: Callable[[RetrainRequest], str]) -> Callable[[RetrainRequest], str]:
        """``run`` counted: started, then finished, failed (by kind) or interrupted, and timed."""
        m = self.metrics

        def body(request: RetrainRequest) -> str:
            m.retrains_started.labels(request.trigger).inc()
            started = time.monotonic()
            try:
                summary = run(request)
            except TrainingStopped:
                m.retrains_interrupted.labels(request.trigger).inc()
                raise
            except Exception as exc:  # counted, then handled by the worker as before
                m.retrains_failed.labels(request.trigger, failure_reason(exc)).inc()
                m.retrain_duration.labels("failed").observe(time.monotonic() - started)
                raise
            m.retrains_finished.labels(request.trigger).inc()
            m.retrain_duration.labels("finished").observe(time.monotonic() - started)
            return summary

        return body

    def _retrain(self, request: RetrainRequest) -> str:
        if self.api is not None:
            try:
                self.api.report_progress(request, "training")
            except ApiJobsError:  # the API being down must not stop a retrain
                logger.warning(
                    "could not report progress of jobs %s to the API", request.job_ids, exc_info=True
                )
        reason = f"{request.trigger}: {request.reason}"
        out = retrain_product(request.product, self.store, self.settings, reason=reason, stop=self._stop)
        if out.decision is not None:
            decision = "promoted" if out.decision.promote else "refused"
            self.metrics.gate_decisions.labels(request.product, decision).inc()
        if out.decision is not None and out.decision.promote:
            self.metrics.promoted(request.product, out.version.version, time.time())
            self.controller.promoted(request.product, out.version.version, f"gate: {out.decision.reason}")
        return describe(out)

    def _done(self, report: RetrainReport) -> None:
        if self.api is not None:
            try:
                self.api.report(report)
            except Exception:  # the API being down must not stop the trainer; the job stays 'running'
                logger.exception("could not report retrain jobs %s to the API", report.request.job_ids)

    def _poll_api(self, stop: threading.Event, every_s: float) -> None:
        assert self.api is not None
        while not stop.wait(every_s):
            try:
                self.api.poll(self.queue)
            except Exception:  # thread boundary: log, retry on the next round
                self.metrics.api_poll_failures.inc()
                logger.exception("polling the API for retrain jobs failed; retrying in %.0f s", every_s)

    def _wait_to_lead(self, stop: threading.Event) -> bool:
        """Start the rollout controller; wait until it leads (False: stopped first)."""
        threading.Thread(target=self.controller.run, args=(stop,), name="rollouts", daemon=True).start()
        waited = 0.0
        while not self.controller.leader.wait(1.0):
            if stop.is_set():
                return False
            if self.controller.error is not None:
                raise TrainingError(f"the trainer's rollout controller failed: {self.controller.error}")
            waited += 1.0
            if waited in (15.0, 60.0) or waited % 600 == 0:
                logger.warning(
                    "another trainer owns the rollouts partition (group %s): waiting %.0f s so far",
                    self.controller.group_id,
                    waited,
                )
        return True

    def run(self, stop: threading.Event, *, api_poll_s: float = 5.0) -> None:
        self._stop = stop  # a retrain running when it is set ends at its next batch (and stays queued)
        try:
            leading = self._wait_to_lead(stop)
        except BaseException:
            stop.set()
            raise
        if not leading:
            self.ingestor.close()
            self.state.close()
            return
        threads = [
            threading.Thread(target=self._guard("ingest", lambda: self.ingestor.run(stop)), daemon=True),
            threading.Thread(target=self.checker.run, args=(stop,), name="triggers", daemon=True),
        ]
        if self.api is not None:
            threads.append(threading.Thread(target=self._poll_api, args=(stop, api_poll_s), daemon=True))
        for t in threads:
            t.start()
        try:
            while not stop.is_set():
                if self.checker.error is not None:
                    self.errors["triggers"] = self.checker.error
                if self.controller.error is not None:
                    self.errors["rollouts"] = self.controller.error
                elif not self.controller.leader.is_set():
                    raise TrainingError("another trainer took the rollouts partition: this one stops")
                for name, exc in self.errors.items():
                    raise TrainingError(f"the trainer's {name} thread failed: {exc}") from exc
                self.worker.step(timeout_s=1.0)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
            self.ingestor.close()
            self.state.close()
            if self.api is not None:
                self.api.close()
