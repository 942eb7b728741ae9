"""training.metrics: the failed-retrain reasons, the queue and rollout controller read at scrape time, the
last promoted version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from factoryloop.settings import KafkaSettings
from training.datasets.errors import DatasetError
from training.errors import GateError, ModelBuildError, RegistryError, RetrainBusyError, TrainingError
from training.metrics import TrainerMetrics, TrainerStateCollector, failure_reason
from training.registry import ModelRegistry
from training.rollout.controller import RolloutController
from training.rollout.policy import default_policies
from training.settings import TrainSettings
from training.triggers import RetrainQueue, RetrainRequest
from training.yolo.recipes import UnknownRecipeError


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (RetrainBusyError("x"), "busy"),
        (DatasetError("x"), "dataset"),
        (RegistryError("x"), "registry"),
        (GateError("x"), "gate"),
        (UnknownRecipeError("x"), "model_build"),  # a subclass: its nearest kind
        (ModelBuildError("x"), "model_build"),
        (TrainingError("x"), "training"),
        (RuntimeError("x"), "unexpected"),
    ],
)
def test_failure_reason(exc: BaseException, reason: str) -> None:
    assert failure_reason(exc) == reason


def _request(product: str) -> RetrainRequest:
    return RetrainRequest(product, "new_labels", "5 new reviews", datetime.now(UTC))


def test_queue_and_controller_at_scrape_time() -> None:
    metrics = TrainerMetrics()
    queue = RetrainQueue()
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    controller = RolloutController(
        kafka, ModelRegistry("http://127.0.0.1:9"), default_policies(TrainSettings())
    )
    metrics.registry.register(TrainerStateCollector(queue, controller))
    value = metrics.registry.get_sample_value
    assert value("factoryloop_trainer_retrain_queue_depth") == 0
    queue.submit(_request("plate"))
    queue.submit(_request("tile"))
    queue.submit(_request("plate"))  # merged into the waiting one
    assert value("factoryloop_trainer_retrain_queue_depth") == 2
    assert queue.take(0) is not None
    assert value("factoryloop_trainer_retrain_queue_depth") == 1
    assert value("factoryloop_trainer_retrains_running") == 1
    assert value("factoryloop_trainer_controller_leader") == 0  # not started: standing by
    controller.leader.set()
    controller.waiting["plate"] = "MLflow does not answer"
    assert value("factoryloop_trainer_controller_leader") == 1
    assert value("factoryloop_trainer_rollout_waiting", {"product": "plate"}) == 1
    assert value("factoryloop_trainer_rollout_in_flight", {"product": "plate", "version": "3"}) is None


def test_last_promoted_version_and_separate_registries() -> None:
    first, second = TrainerMetrics(), TrainerMetrics(CollectorRegistry())
    first.promoted("plate", "7", 1_700_000_000.0)
    first.promoted("tile", "not-a-number", 1_700_000_100.0)  # the time still counts
    value = first.registry.get_sample_value
    assert value("factoryloop_trainer_last_promoted_version", {"product": "plate"}) == 7
    assert value("factoryloop_trainer_last_promoted_version", {"product": "tile"}) is None
    assert value("factoryloop_trainer_last_promotion_timestamp_seconds", {"product": "tile"}) == 1_700_000_100
    assert (
        second.registry.get_sample_value("factoryloop_trainer_last_promoted_version", {"product": "plate"})
        is None
    )


def test_primed_counters_are_exported_at_zero_before_any_retrain() -> None:
    metrics = TrainerMetrics()
    metrics.prime(["new_labels", "api"])
    value = metrics.registry.get_sample_value
    for trigger in ("new_labels", "api"):
        assert value("factoryloop_trainer_retrains_started_total", {"trigger": trigger}) == 0
        assert value("factoryloop_trainer_retrains_failed_total", {"trigger": trigger, "reason": "gate"}) == 0
        assert (
            value("factoryloop_trainer_retrains_failed_total", {"trigger": trigger, "reason": "unexpected"})
            == 0
        )
    assert value("factoryloop_trainer_retrains_started_total", {"trigger": "schedule"}) is None  # not primed
