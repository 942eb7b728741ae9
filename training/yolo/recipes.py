"""Training recipes: named, frozen sets of :func:`train_yolo` arguments, measured on a 2-core CPU.

``CPU_FAST`` trains the packaged tiny detector (``models/fl-tiny.yaml``) from scratch; ``CPU_FAST_FINETUNE``
continues from a champion's ``.pt`` on newly labelled frames (e.g. a new defect class); ``CPU_FIRST_MODEL``
trains ``models/fl-tiny.yaml`` from scratch on a user's own data under a time budget, at an input size chosen
from the data (docs/training.md, "A first model from your data"). Numbers, commands and
the reasoning behind each setting: docs/training.md ("Recipes") and docs/benchmarks.md ("Training")::

    champion = train_scratch(data_yaml, out / "champion")                 # CPU_FAST
    tuned = fine_tune(champion.best_pt, crack_data_yaml, out / "tuned")   # CPU_FAST_FINETUNE
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from training.errors import ModelBuildError
from training.yolo.train import TrainResult, train_yolo

MODELS_DIR = Path(__file__).resolve().parent / "models"
#: YOLO11 layout at width 0.125, one repeat per block, no attention: ~0.75 M parameters, P3-P5 outputs.
TINY_YAML = MODELS_DIR / "fl-tiny.yaml"
#: The same layout at width 0.25 (YOLO11n's widths), two repeats per block: ~2.3 M parameters.
SMALL_YAML = MODELS_DIR / "fl-small.yaml"


class UnknownRecipeError(ModelBuildError):
    """No recipe of that name."""


@dataclass(frozen=True)
class TrainRecipe:
    """What to train and how. ``overrides`` go to Ultralytics' trainer as they are.

    ``nbs=None`` sets Ultralytics' nominal batch size to the batch: one optimizer step per batch (Ultralytics
    otherwise accumulates gradients up to 64 images, 4 batches of 16: 4x fewer steps in a short run).
    """

    name: str
    model: str  # architecture YAML of a scratch recipe; "" for a fine-tune (the caller gives a .pt)
    epochs: int
    imgsz: int | str  # "auto": chosen from the data (training.yolo.imgsz)
    batch: int
    overrides: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    nbs: int | None = None

    def train_args(self, **changes: Any) -> dict[str, Any]:
        """Keyword arguments for :func:`train_yolo` (without ``model``), ``changes`` applied last."""
        args: dict[str, Any] = {
            "epochs": self.epochs,
            "imgsz": self.imgsz,
            "batch": self.batch,
            **self.overrides,
            **changes,
        }
        if "nbs" not in changes:
            args["nbs"] = self.nbs or args["batch"]
        return args

    def replace(self, **changes: Any) -> TrainRecipe:
        return dataclasses.replace(self, **changes)


_CPU_OVERRIDES: dict[str, Any] = {
    "optimizer": "AdamW",
    "warmup_epochs": 0,  # Ultralytics warms up for max(3 epochs, 100 iterations) otherwise
    "mosaic": 0.0,  # off in the loop's recipes (not measured there); cpu_first_model turns it on
    "close_mosaic": 0,
    "scale": 0.25,
    "lrf": 0.1,
    "amp": False,
    "val": False,  # validate once, after the last epoch (a CPU val pass costs as much as an epoch)
    "cache": "ram",
    "workers": 0,
}

CPU_FAST = TrainRecipe(
    name="cpu_fast",
    model=str(TINY_YAML),
    epochs=24,
    imgsz=224,
    batch=16,
    overrides=MappingProxyType({**_CPU_OVERRIDES, "lr0": 0.004}),
)

CPU_FAST_FINETUNE = TrainRecipe(
    name="cpu_fast_finetune",
    model="",
    epochs=20,  # 6 epochs at lr0 0.002 left crack recall at 0: a new class needs steps to lift its bias
    imgsz=224,
    batch=16,
    # lr0 on one closed-loop dataset (451 frames, docs/benchmarks.md "Fine-tune learning rate"): 0.004
    # collapsed the champion (recent mAP50-95 0.065 vs 0.386; 0.127 with a warm-up), 0.001 and 0.0005 barely
    # learned the new class, 0.002 gave 0.519 / 0.514 (two seeds) with crack AP50 0.68 / 0.74.
    # precise_bn: best.pt's BatchNorm statistics recomputed over 1,000 augmented training images
    # (training.yolo.precise_bn; ~2 passes of a closed-loop retrain's data): 10 seeds on one closed-loop
    # dataset, recent / golden mAP50-95 +0.012 / +0.011 on average, no seed refused either way
    # (docs/benchmarks.md "Precise BatchNorm statistics").
    overrides=MappingProxyType({**_CPU_OVERRIDES, "lr0": 0.002, "precise_bn": 1000}),
)

#: A first model from the user's own data, from scratch, under a time budget (``time_budget_s``). NEU-DET,
#: 30 min at one torch thread each, both in one run (docs/benchmarks.md, "A first model from your data"):
#: fl-tiny 29 epochs, held-out mAP50 0.498 / mAP50-95 0.212; fl-small 15 epochs, 0.489 / 0.200, with the same
#: CPU seconds (1,521 / 1,527). A tie on accuracy; fl-tiny is half the inference cost on the line PC.
CPU_FIRST_MODEL = TrainRecipe(
    name="cpu_first_model",
    model=str(TINY_YAML),
    epochs=30,  # a first estimate: under a time budget Ultralytics fits the epochs to the time
    imgsz="auto",  # training.yolo.imgsz: 160 on NEU-DET (200x200 images, big defects); fitted to the budget
    batch=16,
    # max_background: images without a defect at most 10 % of the training (Ultralytics' advice: 0-10 %); a
    # plant's data is mostly good parts (magnetic tiles: 71 %), and a budget buys a fixed number of images.
    # mosaic (off for the last 3 epochs): NEU-DET held-out mAP50 0.562 vs 0.498 without, one core, 30 min
    overrides=MappingProxyType(
        {**_CPU_OVERRIDES, "lr0": 0.004, "max_background": 0.1, "mosaic": 1.0, "close_mosaic": 3}
    ),
)

#: Ultralytics' usual YOLO11n setup (for GPUs or long CPU runs): warm-up, mosaic, a val pass every epoch.
ULTRALYTICS_N = TrainRecipe(
    name="ultralytics_n",
    model="yolo11n.yaml",
    epochs=30,
    imgsz=320,
    batch=16,
    overrides=MappingProxyType({"cache": "ram", "workers": 0}),
    nbs=64,
)

RECIPES: Mapping[str, TrainRecipe] = MappingProxyType(
    {r.name: r for r in (CPU_FAST, CPU_FAST_FINETUNE, CPU_FIRST_MODEL, ULTRALYTICS_N)}
)


def get_recipe(name: str) -> TrainRecipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise UnknownRecipeError(f"unknown training recipe {name!r}; known: {', '.join(RECIPES)}") from None


def train_scratch(
    data_yaml: Path, out_dir: Path, recipe: TrainRecipe = CPU_FAST, **changes: Any
) -> TrainResult:
    """Train ``recipe.model`` from scratch on ``data_yaml`` (the demo's champion: frames without cracks)."""
    if not recipe.model:
        raise UnknownRecipeError(f"recipe {recipe.name!r} has no model: it is a fine-tune recipe")
    return train_yolo(data_yaml, out_dir, **{"model": recipe.model, **recipe.train_args(**changes)})


def fine_tune(
    pt: Path, data_yaml: Path, out_dir: Path, recipe: TrainRecipe = CPU_FAST_FINETUNE, **changes: Any
) -> TrainResult:
    """Continue training the weights ``pt`` (a champion) on ``data_yaml`` (frames with reviewed cracks)."""
    return train_yolo(data_yaml, out_dir, model=Path(pt), **recipe.train_args(**changes))


__all__ = [
    "CPU_FAST",
    "CPU_FAST_FINETUNE",
    "CPU_FIRST_MODEL",
    "MODELS_DIR",
    "RECIPES",
    "SMALL_YAML",
    "TINY_YAML",
    "ULTRALYTICS_N",
    "TrainRecipe",
    "UnknownRecipeError",
    "fine_tune",
    "get_recipe",
    "train_scratch",
]
