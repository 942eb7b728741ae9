"""Budget bookkeeping and the progress/ETA arithmetic (pure parts of training.yolo.budget and .progress)."""

from __future__ import annotations

import dataclasses

import pytest

from training.errors import ModelBuildError
from training.yolo.budget import (
    EXPORT_MIN_S,
    EXPORT_SHARE,
    SAFETY,
    VAL_COST,
    TimeBudget,
    closing_estimate,
    export_reserve,
)
from training.yolo.progress import TrainProgress, eta_seconds, make_progress


@pytest.mark.parametrize(
    ("total", "export", "end"),
    [
        (1800.0, None, 1800.0 - EXPORT_SHARE * 1800.0),  # 30 min: the share
        (60.0, None, 60.0 - EXPORT_MIN_S),  # 1 min: the minimum
        (100.0, 0.0, 100.0),
        (100.0, 30.0, 70.0),
    ],
)
def test_budget_keeps_the_export_reserve(total: float, export: float | None, end: float) -> None:
    budget = TimeBudget.of(total, export)
    assert budget.end_s == pytest.approx(end)
    assert export_reserve(total) >= EXPORT_MIN_S


@pytest.mark.parametrize(("total", "export"), [(0.0, None), (-5.0, 0.0), (10.0, None), (50.0, 50.0)])
def test_budget_that_leaves_nothing_to_train_is_refused(total: float, export: float | None) -> None:
    with pytest.raises(ModelBuildError, match="budget"):
        TimeBudget.of(total, export)


@pytest.mark.parametrize(
    ("elapsed", "loop", "closing", "expected"),
    [
        (10.0, 0.0, 20.0, 70.0),  # loop starts 10 s in: 100 - 10 - 20
        (50.0, 40.0, 20.0, 70.0),  # 40 s into the loop: the same end
        (50.0, 40.0, 35.0, 55.0),  # a longer closing validation: stop earlier
        (95.0, 85.0, 20.0, 70.0),  # the closing no longer fits: a time already passed, the loop stops
        (200.0, 10.0, 20.0, 1e-3),  # far past the end: still positive (Ultralytics needs a time > 0)
    ],
)
def test_loop_seconds(elapsed: float, loop: float, closing: float, expected: float) -> None:
    budget = TimeBudget(total_s=130.0, export_s=30.0)  # end_s = 100
    assert budget.loop_seconds(elapsed_s=elapsed, loop_s=loop, closing_s=closing) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"val_images": 100, "train_s_per_image": 0.1, "val_s": 7.0}, SAFETY * 7.0),  # measured wins
        ({"val_images": 100, "train_s_per_image": 0.1, "val_s": None}, SAFETY * VAL_COST * 10.0),
        ({"val_images": 100, "train_s_per_image": 0.1, "val_s": 7.0, "save_s": 1.0}, SAFETY * 10.0),
        ({"val_images": 100, "train_s_per_image": None, "val_s": None}, None),
    ],
)
def test_closing_estimate(kwargs: dict[str, object], expected: float | None) -> None:
    assert closing_estimate(**kwargs) == (pytest.approx(expected) if expected is not None else None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"epoch": 1, "epochs": 10, "train_s": 30.0}, 270.0),
        ({"epoch": 4, "epochs": 10, "train_s": 80.0, "final_s": 15.0}, 6 * 20.0 + 15.0),
        ({"epoch": 10, "epochs": 10, "train_s": 200.0, "final_s": 15.0}, 15.0),
        ({"epoch": 12, "epochs": 10, "train_s": 240.0}, 0.0),  # past the plan: nothing but the closing work
        ({"epoch": 2, "epochs": 30, "train_s": 60.0, "left_s": 100.0}, 100.0),  # the budget ends first
        ({"epoch": 2, "epochs": 30, "train_s": 60.0, "left_s": -5.0}, 0.0),
    ],
)
def test_eta_seconds(kwargs: dict[str, float], expected: float) -> None:
    assert eta_seconds(**kwargs) == pytest.approx(expected)  # type: ignore[arg-type]


def test_eta_needs_an_epoch() -> None:
    with pytest.raises(ValueError, match="epoch"):
        eta_seconds(epoch=0, epochs=3, train_s=1.0)


def test_progress_is_frozen_and_reports_a_fraction() -> None:
    p = make_progress(
        epoch=3,
        epochs=10,
        elapsed_s=40.0,
        train_s=30.0,
        final_s=5.0,
        losses={"train_box_loss": 1.5},
        metrics={},
        budget_s=120.0,
        left_s=70.0,
    )
    assert isinstance(p, TrainProgress)
    assert p.eta_s == pytest.approx(70.0)  # 7 epochs x 10 s + 5 s = 75 s, but the budget ends in 70 s
    assert p.fraction == pytest.approx(40.0 / 110.0)
    assert p.losses["train_box_loss"] == 1.5 and dict(p.metrics) == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.epoch = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.losses["x"] = 1.0  # type: ignore[index]
    assert (
        make_progress(epoch=5, epochs=3, elapsed_s=1, train_s=1, final_s=0).epochs == 5
    )  # never under epoch
