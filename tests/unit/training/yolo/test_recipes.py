"""Recipes resolve to the right trainer arguments; detection recall counts at a fixed confidence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from training.errors import ModelBuildError
from training.pipeline import train_params
from training.settings import TrainSettings
from training.yolo.onnx_ref import RefDetection
from training.yolo.recall import detection_report
from training.yolo.recipes import (
    CPU_FAST,
    CPU_FAST_FINETUNE,
    CPU_FIRST_MODEL,
    RECIPES,
    TINY_YAML,
    get_recipe,
)


def test_cpu_fast_is_packaged_and_steps_every_batch() -> None:
    assert TINY_YAML.is_file() and CPU_FAST.model == str(TINY_YAML)
    args = CPU_FAST.train_args()
    assert args["nbs"] == args["batch"] and args["warmup_epochs"] == 0 and args["val"] is False
    assert CPU_FAST.train_args(batch=8)["nbs"] == 8
    assert CPU_FAST_FINETUNE.imgsz == CPU_FAST.imgsz  # a fine-tune keeps the champion's input size
    # a fine-tune's BatchNorm statistics are recomputed for its final weights (training.yolo.precise_bn)
    assert CPU_FAST_FINETUNE.train_args()["precise_bn"] > 0 and "precise_bn" not in args
    assert set(RECIPES) >= {"cpu_fast", "cpu_fast_finetune"}
    with pytest.raises(ModelBuildError, match="unknown training recipe"):
        get_recipe("nope")


def test_first_model_recipe_chooses_its_input_size_from_the_data() -> None:
    assert get_recipe("cpu_first_model") is CPU_FIRST_MODEL
    assert Path(CPU_FIRST_MODEL.model).is_file() and CPU_FIRST_MODEL.model.endswith("fl-tiny.yaml")
    args = CPU_FIRST_MODEL.train_args(time_budget_s=1800.0)
    assert args["imgsz"] == "auto" and args["val"] is False and args["nbs"] == args["batch"]
    assert args["time_budget_s"] == 1800.0 and args["workers"] == 0


@pytest.mark.parametrize(
    ("kwargs", "recipe", "model", "epochs"),
    [
        ({}, "cpu_fast", str(TINY_YAML), CPU_FAST.epochs),
        ({"model": "/x/champion.pt"}, "cpu_fast_finetune", "/x/champion.pt", CPU_FAST_FINETUNE.epochs),
        ({"epochs": 3, "lr0": 0.0}, "cpu_fast", str(TINY_YAML), 3),
    ],
)
def test_pipeline_params(kwargs: dict[str, object], recipe: str, model: str, epochs: int) -> None:
    name, params = train_params(TrainSettings(imgsz=96), **kwargs)  # type: ignore[arg-type]
    assert (name, params["model"], params["epochs"], params["imgsz"]) == (recipe, model, epochs, 96)
    assert params.get("lr0") == kwargs.get("lr0", get_recipe(recipe).overrides["lr0"])


@pytest.mark.parametrize(
    ("setting", "model", "frozen"),
    [(True, "/x/champion.pt", True), (False, "/x/champion.pt", None), (True, "", None)],  # scratch: never
)
def test_fine_tunes_freeze_batchnorm_when_set(setting: bool, model: str, frozen: bool | None) -> None:
    settings = TrainSettings(imgsz=96, finetune_freeze_batchnorm=setting)
    _, params = train_params(settings, **({"model": model} if model else {}))
    assert params.get("freeze_batchnorm") is frozen


@pytest.mark.parametrize(
    ("setting", "model", "images"),
    [(None, "/x/champion.pt", 1000), (0, "/x/champion.pt", 0), (500, "/x/champion.pt", 500), (500, "", None)],
    ids=["recipe", "off", "set", "scratch-never"],
)
def test_fine_tunes_recompute_batchnorm(setting: int | None, model: str, images: int | None) -> None:
    settings = TrainSettings(imgsz=96, finetune_precise_bn=setting)
    _, params = train_params(settings, **({"model": model} if model else {}))
    assert params.get("precise_bn") == images


@dataclass(frozen=True)
class _Truth:
    class_id: int
    x1: int
    y1: int
    x2: int
    y2: int


def test_detection_report_counts_hits_at_conf() -> None:
    truths = [_Truth(3, 10, 10, 50, 50), _Truth(0, 100, 100, 140, 120)]
    dets = [
        RefDetection(3, 0.9, 12, 11, 50, 49),  # hit
        RefDetection(0, 0.2, 100, 100, 140, 120),  # right box, under conf 0.25
        RefDetection(1, 0.8, 200, 200, 220, 220),  # false positive
    ]
    rep = detection_report(lambda _: dets, [(np.zeros((8, 8, 3), np.uint8), truths)], ["s", "d", "x", "c"])
    assert rep.recall("c") == 1.0 and rep.recall("s") == 0.0
    assert rep.per_class["d"].precision == 0.0 and rep.per_class["c"].precision == 1.0


@pytest.mark.parametrize(("env", "expected"), [("1", 1), ("3", 3), ("0", 1)])
def test_cpu_threads_env(monkeypatch: pytest.MonkeyPatch, env: str, expected: int) -> None:
    from training.yolo.train import THREADS_ENV, cpu_threads

    monkeypatch.setenv(THREADS_ENV, env)
    assert cpu_threads() == expected


def test_cpu_threads_leaves_busy_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from training.yolo.train import THREADS_ENV, cpu_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert cpu_threads() == 3
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert cpu_threads() == 1
