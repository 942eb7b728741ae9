"""The trainer's Prometheus metrics (``factoryloop_trainer_*``), one registry per :class:`TrainerService`.

Counted where they happen: retrains started, finished, failed (by the error's kind) or interrupted, per
trigger, and their duration; the gate's decisions and the last version it promoted, per product; failed polls
of the API's retrain jobs. Read at scrape time (:class:`TrainerStateCollector`): the retrain queue, the
rollout controller's leadership, the rollouts in their canary stages and those waiting for MLflow or Kafka.
``factoryloop train watch --metrics-port`` serves them with the ingest's (training.ingest.metrics). Names are
the contract of deploy/prometheus and deploy/grafana (docs/operations.md "Monitoring").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from training.datasets.errors import DatasetError
from training.errors import (
    GateError,
    IngestError,
    ModelBuildError,
    RegistryError,
    RetrainBusyError,
    RolloutError,
    TrainingError,
)
from training.evaluation.errors import EvaluationError

if TYPE_CHECKING:
    from training.rollout.controller import RolloutController
    from training.triggers import RetrainQueue

# The ``reason`` of a failed retrain: the first kind the error is an instance of (a bounded set of labels).
FAILURE_KINDS: tuple[tuple[str, type[BaseException]], ...] = (
    ("busy", RetrainBusyError),
    ("dataset", DatasetError),
    ("registry", RegistryError),
    ("gate", GateError),
    ("model_build", ModelBuildError),
    ("evaluation", EvaluationError),
    ("rollout", RolloutError),
    ("ingest", IngestError),
    ("training", TrainingError),
)
DURATION_BUCKETS = (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


def failure_reason(exc: BaseException) -> str:
    """``busy``, ``dataset``, ``registry``, ... for the training package's errors, else ``unexpected``."""
    return next((name for name, kind in FAILURE_KINDS if isinstance(exc, kind)), "unexpected")


class TrainerMetrics:
    """The trainer's counters, on ``registry`` (a fresh one by default: several services may share a test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.retrains_started = Counter(
            "factoryloop_trainer_retrains_started_total",
            "Retrains started, per trigger",
            ["trigger"],
            registry=r,
        )
        self.retrains_finished = Counter(
            "factoryloop_trainer_retrains_finished_total",
            "Retrains that ended with a registered, gated model, per trigger",
            ["trigger"],
            registry=r,
        )
        self.retrains_failed = Counter(
            "factoryloop_trainer_retrains_failed_total",
            "Retrains that failed, per trigger and kind of error (busy, dataset, registry, gate, ...)",
            ["trigger", "reason"],
            registry=r,
        )
        self.retrains_interrupted = Counter(
            "factoryloop_trainer_retrains_interrupted_total",
            "Retrains stopped by the trainer's shutdown (queued again for the next start)",
            ["trigger"],
            registry=r,
        )
        self.retrain_duration = Histogram(
            "factoryloop_trainer_retrain_duration_seconds",
            "Time from a retrain's start to its end, per result (finished, failed)",
            ["result"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.gate_decisions = Counter(
            "factoryloop_trainer_gate_decisions_total",
            "Gate decisions on retrained challengers, per product and decision (promoted, refused)",
            ["product", "decision"],
            registry=r,
        )
        self.last_promoted_version = Gauge(
            "factoryloop_trainer_last_promoted_version",
            "The version the gate last promoted, per product (since this trainer started)",
            ["product"],
            registry=r,
        )
        self.last_promotion = Gauge(
            "factoryloop_trainer_last_promotion_timestamp_seconds",
            "When the gate last promoted a version, per product (Unix time)",
            ["product"],
            registry=r,
        )
        self.api_poll_failures = Counter(
            "factoryloop_trainer_api_poll_failures_total",
            "Failed polls of the API's retrain jobs (API down, token refused)",
            registry=r,
        )

    def prime(self, triggers: Iterable[str]) -> None:
        """The retrain counters of each trigger (and failure reason) exported at 0 from the start: Prometheus
        sees no increase in a series whose first sample is already 1, so without them the first failures after
        a trainer's start would not count towards ``FactoryloopRetrainFailing`` (deploy/prometheus)."""
        reasons = [name for name, _ in FAILURE_KINDS] + ["unexpected"]
        for trigger in triggers:
            for counter in (self.retrains_started, self.retrains_finished, self.retrains_interrupted):
                counter.labels(trigger)
            for reason in reasons:
                self.retrains_failed.labels(trigger, reason)

    def promoted(self, product: str, version: str, at: float) -> None:
        if version.isdigit():  # MLflow's registered versions are numbers
            self.last_promoted_version.labels(product).set(int(version))
        self.last_promotion.labels(product).set(at)


class TrainerStateCollector(Collector):
    """The queue and the rollout controller, read at each scrape (snapshots taken under their own locks)."""

    def __init__(self, queue: RetrainQueue, controller: RolloutController) -> None:
        self.queue = queue
        self.controller = controller

    def collect(self) -> Iterator[Any]:
        yield GaugeMetricFamily(
            "factoryloop_trainer_retrain_queue_depth",
            "Retrain requests waiting (one per product at most)",
            value=len(self.queue.waiting()),
        )
        yield GaugeMetricFamily(
            "factoryloop_trainer_retrains_running", "Retrains running now", value=len(self.queue.running())
        )
        c = self.controller
        yield GaugeMetricFamily(
            "factoryloop_trainer_controller_leader",
            "1 while this trainer's rollout controller owns the rollouts partition (acts), 0 on standby",
            value=1 if c.leader.is_set() else 0,
        )
        in_flight = GaugeMetricFamily(
            "factoryloop_trainer_rollout_in_flight",
            "1 per product whose rollout is in its canary stages, with the version rolled out",
            labels=["product", "version"],
        )
        for product, version in sorted(c.in_flight.items()):
            in_flight.add_metric([product, version], 1)
        yield in_flight
        waiting = GaugeMetricFamily(
            "factoryloop_trainer_rollout_waiting",
            "1 per product whose rollout or request waits for MLflow or Kafka to answer",
            labels=["product"],
        )
        for product in sorted(dict(c.waiting)):
            waiting.add_metric([product], 1)
        yield waiting
