"""Each trigger fires when its evidence crosses its threshold, for its product, and forgets after reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from factoryloop.schemas import ReviewAction
from tests.support.events import detection, label, outcome
from training.triggers import (
    ConfidenceDriftTrigger,
    ConfidenceDriftTriggerConfig,
    NewLabelsTrigger,
    NewLabelsTriggerConfig,
    OverrideRateTrigger,
    OverrideRateTriggerConfig,
    ScheduleTrigger,
    ScheduleTriggerConfig,
    psi,
)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("classes", "labels", "fires"),
    [
        ((), [("p", "scratch")] * 3, True),
        ((), [("p", "scratch")] * 2, False),
        ((), [("p", "scratch"), ("q", "scratch"), ("p", "dent")], False),  # two products, 2 + 1
        (("crack",), [("p", "scratch")] * 5, False),
        (("crack",), [("p", "crack")] * 3, True),
    ],
)
def test_new_labels(classes: tuple[str, ...], labels: list[tuple[str, str]], fires: bool) -> None:
    trigger = NewLabelsTrigger(NewLabelsTriggerConfig(min_labels=3, classes=classes))
    for product, cls in labels:
        trigger.observe(label(product=product, detections=(detection(class_name=cls, confidence=1.0),)), T0)
    trigger.observe(outcome(product="p"), T0)  # outcomes are not reviews
    due = trigger.due(T0)
    assert [r.product for r in due] == (["p"] if fires else [])
    trigger.reset("p", T0)
    assert trigger.due(T0) == []


def test_new_labels_counts_only_chosen_actions() -> None:
    trigger = NewLabelsTrigger(NewLabelsTriggerConfig(min_labels=1, actions=(ReviewAction.CORRECT,)))
    trigger.observe(label(product="p", action=ReviewAction.REJECT, detections=()), T0)
    assert trigger.due(T0) == []
    trigger.observe(label(product="p"), T0)
    assert trigger.due(T0)[0].reason.startswith("1 new reviewed labels")


def test_schedule_fires_every_period_from_start_or_last_retrain() -> None:
    trigger = ScheduleTrigger(ScheduleTriggerConfig(every_h=2, products=("a", "b")), T0)
    assert trigger.due(T0 + timedelta(hours=1)) == []
    assert [r.product for r in trigger.due(T0 + timedelta(hours=2))] == ["a", "b"]
    trigger.reset("a", T0 + timedelta(hours=2))
    assert [r.product for r in trigger.due(T0 + timedelta(hours=3))] == ["b"]


@pytest.mark.parametrize(
    ("reference", "recent", "low", "high"),
    [
        (np.full(500, 0.9), np.full(500, 0.9), 0.0, 0.01),
        (np.linspace(0, 1, 500), np.linspace(0, 1, 500), 0.0, 0.01),
        (np.full(500, 0.9), np.full(500, 0.1), 5.0, 20.0),
        (np.linspace(0.5, 1, 500), np.linspace(0, 1, 500), 0.25, 5.0),
    ],
)
def test_psi(reference: np.ndarray, recent: np.ndarray, low: float, high: float) -> None:
    assert low <= psi(reference, recent) <= high


def _outcome(product: str, conf: float | None, version: str = "3", line: str = "line-1") -> object:
    dets = () if conf is None else (detection(confidence=conf),)
    from factoryloop.schemas import ModelRef

    return outcome(
        product=product,
        detections=dets,
        line_id=line,
        model=ModelRef(name="m", version=version, sha256="b" * 64),
    )


def test_confidence_drift_fires_on_shift_and_restarts_on_new_model() -> None:
    trigger = ConfidenceDriftTrigger(ConfidenceDriftTriggerConfig(window=40, max_psi=0.25))
    for i in range(40):
        trigger.observe(_outcome("p", 0.8 + (i % 10) / 100), T0)  # reference: confident detections
    for i in range(39):
        trigger.observe(_outcome("p", 0.8 + (i % 10) / 100), T0)
    assert trigger.due(T0) == []  # recent window not full yet
    trigger.observe(_outcome("p", 0.85), T0)
    assert trigger.due(T0) == [] and trigger.shift("p", "line-1") == pytest.approx(0.0, abs=0.01)
    for i in range(40):
        trigger.observe(_outcome("p", None if i % 2 else 0.3), T0)  # misses and weak detections
    due = trigger.due(T0)
    assert [r.product for r in due] == ["p"] and "line-1" in due[0].reason
    trigger.observe(_outcome("p", 0.9, version="4"), T0)  # a new model: a new reference
    assert trigger.due(T0) == []


@pytest.mark.parametrize(
    ("actions", "fires"),
    [
        ([ReviewAction.CONFIRM] * 10, False),
        ([ReviewAction.CONFIRM] * 6 + [ReviewAction.CORRECT] * 4, True),
        ([ReviewAction.CORRECT] * 9, False),  # fewer than min_reviews
        ([ReviewAction.CORRECT] * 5 + [ReviewAction.CONFIRM] * 20, False),  # old overrides left the window
    ],
)
def test_override_rate(actions: list[ReviewAction], fires: bool) -> None:
    trigger = OverrideRateTrigger(OverrideRateTriggerConfig(window=20, min_reviews=10, max_rate=0.3))
    for action in actions:
        dets = () if action is not ReviewAction.CORRECT else (detection(confidence=1.0),)
        trigger.observe(label(product="p", action=action, detections=dets), T0)
    assert [r.product for r in trigger.due(T0)] == (["p"] if fires else [])
