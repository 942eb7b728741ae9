"""Train a YOLO detector with Ultralytics, offline, and collect the metrics the registry and gate need."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.errors import ModelBuildError, TrainingStopped
from training.yolo.background import limit_background
from training.yolo.base_model import check_base_model
from training.yolo.budget import RunClock, TimeBudget, trainer_class
from training.yolo.imgsz import imgsz_for_dataset
from training.yolo.imgsz_budget import RESERVED_SHARE, imgsz_for_budget
from training.yolo.offline import yolo_class
from training.yolo.progress import ProgressCallback

logger = logging.getLogger(__name__)

SCRATCH_MODEL = "yolo11n.yaml"


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    ap50: float
    ap50_95: float


@dataclass(frozen=True)
class TrainResult:
    best_pt: Path
    save_dir: Path
    class_names: tuple[str, ...]
    metrics: dict[str, float]  # precision, recall, mAP50, mAP50-95 of the best weights on the val split
    per_class: dict[str, ClassMetrics]  # classes present in the val split only
    epochs: list[dict[str, float]] = field(default_factory=list)  # per-epoch losses and val metrics
    wall_s: float = 0.0
    train_images: int = 0
    imgsz: int = 0  # the input size trained at (export at this size)

    @property
    def images_per_s(self) -> float:
        """Training throughput: images seen per second of wall time (all epochs, validation included)."""
        n_epochs = len(self.epochs) or 1
        return self.train_images * n_epochs / self.wall_s if self.wall_s > 0 else 0.0


def resolve_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


THREADS_ENV = "FACTORYLOOP_TRAIN_THREADS"


def cpu_threads() -> int:
    """Torch threads for CPU training: ``$FACTORYLOOP_TRAIN_THREADS`` if set, else the cores left idle.

    Idle cores = cores - 1-minute load average (rounded), at least 1: OpenMP threads on busy cores spin at
    each barrier; on a shared 2-core box two threads measured up to ~10x slower than one, while on an idle
    box they are +55 % (docs/benchmarks.md, "Training").
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if value.isdigit():
        return max(1, int(value))
    cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy))


def _use_all_cores(trainer: Any) -> None:
    # Ultralytics sets min(8, cpu_count - 1) torch threads for CPU training: one thread on a 2-core box.
    if getattr(trainer.device, "type", "") == "cpu":
        import torch

        threads = cpu_threads()
        torch.set_num_threads(threads)
        logger.info("CPU training with %s torch thread(s)", threads)


def _dataloader_workers(workers: int) -> Any:
    def set_workers(trainer: Any) -> None:
        # Ultralytics sets workers=0 for CPU training; a worker process prepares batches beside the training
        trainer.args.workers = workers

    return set_workers


def summarize_box_metrics(
    box: Any, names: dict[int, str]
) -> tuple[dict[str, float], dict[str, ClassMetrics]]:
    """Overall and per-class numbers from an Ultralytics ``Metric`` (``validator.metrics.box``)."""
    overall = {
        "precision": float(box.mp),
        "recall": float(box.mr),
        "mAP50": float(box.map50),
        "mAP50-95": float(box.map),
    }
    per_class: dict[str, ClassMetrics] = {}
    for i, cls in enumerate(box.ap_class_index):
        p, r, ap50, ap = box.class_result(i)
        per_class[names[int(cls)]] = ClassMetrics(float(p), float(r), float(ap50), float(ap))
    return overall, per_class


def _stop_when_set(stop: threading.Event) -> Callable[[Any], None]:
    def check(trainer: Any) -> None:
        if stop.is_set():
            raise TrainingStopped(f"training stopped at epoch {trainer.epoch + 1}: the trainer is stopping")

    return check


def _input_size(
    imgsz: int | str, data_yaml: Path, model: str, budget: TimeBudget | None, started: float
) -> int:
    if isinstance(imgsz, int):
        return imgsz
    if budget is not None:
        train_s = budget.end_s * (1 - RESERVED_SHARE) - (time.monotonic() - started)
        return imgsz_for_budget(data_yaml, model, train_s=train_s, threads=cpu_threads()).imgsz
    size = imgsz_for_dataset(data_yaml)
    logger.info("input size %s chosen from %s", size, data_yaml)
    return size


def train_yolo(
    data_yaml: Path,
    out_dir: Path,
    *,
    model: str | Path = SCRATCH_MODEL,
    epochs: int = 30,
    imgsz: int | str = 320,
    batch: int = 16,
    workers: int = 0,
    device: str | None = None,
    cache: str | bool = "ram",
    seed: int = 0,
    patience: int = 100,
    freeze_batchnorm: bool = False,
    precise_bn: int = 0,
    max_background: float | None = None,
    time_budget_s: float | None = None,
    export_reserve_s: float | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train ``model`` (scratch YAML or a .pt to start from) on ``data_yaml``; weights in ``out_dir/train``.

    ``overrides`` are passed to Ultralytics' trainer as they are (``mosaic=0.0``, ``lr0=...``).
    ``freeze_batchnorm``: keep every BatchNorm layer's running statistics as the starting model had them (the
    layers still learn their scale and shift): for fine-tunes, whose statistics can otherwise end up unfit for
    held-out images while the train loss looks fine (docs/training.md "Recipes").
    ``precise_bn``: recompute best.pt's BatchNorm statistics over this many augmented training images before
    its final validation (``training.yolo.precise_bn``; 0: off); the weights as trained stay beside it.
    ``max_background``: train on every image with a box and at most this share of images without
    (``training.yolo.background``; None: all of them); validation still sees every image.
    ``time_budget_s``: the run returns within this many seconds less ``export_reserve_s`` (default: a share of
    the budget, ``training.yolo.budget.export_reserve``) kept for the caller's export; ``epochs`` is then only
    the first estimate (training.yolo.budget). ``progress`` gets a ``TrainProgress`` after each epoch.
    ``imgsz="auto"``: chosen from the train split's image and box sizes (``training.yolo.imgsz``) and, under a
    time budget, lowered until ``MIN_EPOCHS`` epochs fit it (``training.yolo.imgsz_budget``).
    ``workers``: dataloader worker processes, on CPU too (Ultralytics alone would use none there).
    ``stop``: when set, the run ends at the next batch with :class:`TrainingStopped` (the trainer stops).
    """
    started = time.monotonic()
    data_yaml, out_dir = Path(data_yaml), Path(out_dir)
    if not data_yaml.is_file():
        raise ModelBuildError(f"dataset YAML {data_yaml} does not exist; export a dataset version first")
    model_str = str(model)
    if not (model_str.endswith(".yaml") or Path(model_str).is_file()):
        raise ModelBuildError(f"model {model_str!r} is neither an architecture YAML nor an existing .pt file")
    if not model_str.endswith(".yaml"):
        check_base_model(Path(model_str))
    if imgsz != "auto" and not isinstance(imgsz, int):
        raise ModelBuildError(f"imgsz must be an int or 'auto', got {imgsz!r}")
    budget = TimeBudget.of(time_budget_s, export_reserve_s) if time_budget_s is not None else None
    if max_background is not None:
        data_yaml = limit_background(data_yaml, out_dir / "train-subset", max_background, seed=seed).data_yaml
    size = _input_size(imgsz, data_yaml, model_str, budget, started)
    yolo = yolo_class()(model_str)
    clock = RunClock(started, budget, progress)

    if freeze_batchnorm:
        from torch.nn.modules.batchnorm import _BatchNorm

        def keep_batchnorm_statistics(trainer: Any) -> None:
            for module in trainer.model.modules():  # the trainer sets train mode each epoch: undo it here
                if isinstance(module, _BatchNorm):
                    module.eval()

        yolo.add_callback("on_train_batch_start", keep_batchnorm_statistics)
    if precise_bn:

        def ask_precise_bn(trainer: Any) -> None:
            trainer.precise_bn_images = precise_bn

        yolo.add_callback("on_pretrain_routine_start", ask_precise_bn)
    if stop is not None:
        yolo.add_callback("on_train_batch_start", _stop_when_set(stop))
    yolo.add_callback("on_pretrain_routine_start", _dataloader_workers(workers))
    yolo.add_callback("on_pretrain_routine_end", _use_all_cores)
    clock.attach(yolo)
    args: dict[str, Any] = {
        "data": str(data_yaml),
        "epochs": epochs,
        "imgsz": size,
        "batch": batch,
        "workers": workers,
        "device": resolve_device(device),
        "cache": cache,
        "seed": seed,
        "deterministic": True,
        "patience": patience,
        "project": str(out_dir.resolve()),
        "name": "train",
        "exist_ok": True,
        "plots": False,
        "verbose": False,
        "val": True,
        **overrides,
    }
    if budget is not None:
        args["time"] = budget.end_s / 3600  # refined at the loop start and after each epoch (RunClock)
    try:
        yolo.train(trainer=trainer_class() if yolo.task == "detect" else None, **args)
    except TrainingStopped:
        raise
    except Exception as exc:  # Ultralytics raises many types; keep the cause
        raise ModelBuildError(f"training {model_str} on {data_yaml} failed: {exc}") from exc
    wall = time.monotonic() - started
    trainer = yolo.trainer
    best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
    if not best.is_file():
        raise ModelBuildError(f"training finished without weights in {trainer.save_dir}")
    names = {int(k): str(v) for k, v in trainer.data["names"].items()}
    overall, per_class = summarize_box_metrics(trainer.validator.metrics.box, names)
    n_train = len(trainer.train_loader.dataset) if getattr(trainer, "train_loader", None) else 0
    logger.info(
        "trained %s in %.1fs (%s epochs): mAP50 %.3f mAP50-95 %.3f",
        best,
        wall,
        clock.trained,
        overall["mAP50"],
        overall["mAP50-95"],
    )
    if budget is not None and wall > budget.end_s:
        logger.warning("training took %.0f s, over its share of the budget (%.0f s)", wall, budget.end_s)
    return TrainResult(
        best_pt=best,
        save_dir=Path(trainer.save_dir),
        class_names=tuple(names[i] for i in sorted(names)),
        metrics=overall,
        per_class=per_class,
        epochs=clock.rows,
        wall_s=wall,
        train_images=n_train,
        imgsz=size,
    )
