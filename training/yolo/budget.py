"""Train within a time budget: Ultralytics' ``time`` argument, kept up to date from measured epoch times.

Ultralytics' ``time`` (hours, counted from the start of its training loop) overrides ``epochs``: after each
epoch it re-estimates how many epochs fit, rebuilds the learning-rate schedule so that it decays to ``lrf`` at
the end of the time, and stops mid-epoch once the time is up; then it validates the last weights. What its
``time`` leaves out is set aside here: the setup before the loop (dataset caching, model build), the closing
validation and the caller's export after ``train_yolo``. :class:`RunClock` sets ``trainer.args.time`` at the
loop start and after every epoch so that ``train_yolo`` returns by ``TimeBudget.end_s``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from training.errors import ModelBuildError
from training.yolo.progress import ProgressCallback, make_progress

logger = logging.getLogger(__name__)

#: Reserved for the caller's export after ``train_yolo`` (ONNX, parity check, INT8 twin): a share of the
#: budget, at least EXPORT_MIN_S (docs/benchmarks.md, "A first model from your data": measured shares).
EXPORT_SHARE = 0.04
EXPORT_MIN_S = 20.0
#: Seconds of a validation pass per validation image / seconds of training per training image, used until a
#: pass has been measured (measured on NEU-DET with fl-tiny and fl-small: 0.30-0.45; rounded up).
VAL_COST = 0.6
#: Margin on the closing validation's estimate.
SAFETY = 1.25
#: Share of the budget assumed for the closing validation before the first epoch has been timed.
FIRST_GUESS_SHARE = 0.1


@dataclass(frozen=True)
class TimeBudget:
    """``total_s`` from the call of ``train_yolo``; ``train_yolo`` returns by ``end_s`` (total - export)."""

    total_s: float
    export_s: float

    @classmethod
    def of(cls, total_s: float, export_s: float | None = None) -> TimeBudget:
        if not total_s > 0:
            raise ModelBuildError(f"the time budget must be positive, got {total_s} s")
        export = export_reserve(total_s) if export_s is None else max(0.0, export_s)
        if export >= total_s:
            raise ModelBuildError(
                f"a time budget of {total_s:.0f} s leaves nothing to train after {export:.0f} s of export"
            )
        return cls(float(total_s), float(export))

    @property
    def end_s(self) -> float:
        return self.total_s - self.export_s

    def loop_seconds(self, *, elapsed_s: float, loop_s: float, closing_s: float) -> float:
        """Ultralytics' ``time`` in seconds: the loop may run until ``closing_s`` before ``end_s``.

        ``elapsed_s``: since ``train_yolo`` started; ``loop_s``: since the training loop started (the clock
        Ultralytics compares its ``time`` with). Past the end it is the present: the loop stops at once.
        """
        left = self.end_s - elapsed_s - closing_s
        return max(loop_s + left, 1e-3)


def export_reserve(total_s: float) -> float:
    """Default budget part kept for the export after training (``EXPORT_SHARE``, >= EXPORT_MIN_S)."""
    return max(EXPORT_MIN_S, EXPORT_SHARE * total_s)


def closing_estimate(
    *, val_images: int, train_s_per_image: float | None, val_s: float | None, save_s: float = 0.0
) -> float | None:
    """Seconds from the end of the training loop to the return of ``train_yolo``, x SAFETY: a validation
    pass (the last one measured, else the training time per image so far x ``VAL_COST`` x the validation
    images) and three checkpoint writes of ``save_s`` (last.pt, then both stripped of the optimizer state).
    None before any batch has been timed."""
    if val_s is not None:
        return SAFETY * (val_s + 3 * save_s)
    if train_s_per_image is None:
        return None
    return SAFETY * (VAL_COST * train_s_per_image * val_images + 3 * save_s)


def _loss_items(trainer: Any) -> dict[str, float]:
    if trainer.tloss is None:
        return {}
    items = trainer.label_loss_items(trainer.tloss, prefix="train")
    return {clean_key(k): float(v) for k, v in items.items()}


def clean_key(key: str) -> str:
    return key.replace("metrics/", "").replace("(B)", "").replace("/", "_")


class RunClock:
    """Ultralytics callbacks: budget bookkeeping, timings and the per-epoch progress report."""

    def __init__(
        self, started: float, budget: TimeBudget | None = None, progress: ProgressCallback | None = None
    ) -> None:
        self.started = started  # time.monotonic() at the call of train_yolo
        self.budget = budget
        self.progress = progress
        self.epoch_started: float | None = None
        self.epoch_images = 0
        self.s_per_image: float | None = None  # training seconds per image, this epoch so far
        self.val_started: float | None = None
        self.val_s: float | None = None
        self.save_s = 0.0  # the last checkpoint write
        self.epoch_ended: float | None = None
        self.validated = False  # this epoch's metrics are fresh
        self.trained = 0  # epochs trained
        self.rows: list[dict[str, float]] = []  # one per epoch: losses, and metrics when validated

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def attach(self, yolo: Any) -> None:
        events = ("on_train_start", "on_train_epoch_start", "on_train_batch_end", "on_train_epoch_end")
        for event in (*events, "on_model_save", "on_fit_epoch_end"):
            yolo.add_callback(event, getattr(self, event))
        yolo.add_callback("on_val_start", self.on_val_start)
        yolo.add_callback("on_val_end", self.on_val_end)

    def closing_s(self, trainer: Any) -> float:
        estimate = closing_estimate(
            val_images=len(trainer.test_loader.dataset),
            train_s_per_image=self.s_per_image,
            val_s=self.val_s,
            save_s=self.save_s,
        )
        if estimate is None:
            return FIRST_GUESS_SHARE * (self.budget.total_s if self.budget else 0.0)
        return estimate

    def _set_time(self, trainer: Any) -> None:
        if self.budget is None:
            return
        loop_s = time.time() - trainer.train_time_start  # Ultralytics' own clock for ``time``
        seconds = self.budget.loop_seconds(
            elapsed_s=self.elapsed(), loop_s=loop_s, closing_s=self.closing_s(trainer)
        )
        trainer.args.time = seconds / 3600

    def on_train_start(self, trainer: Any) -> None:
        self._set_time(trainer)

    def on_train_epoch_start(self, trainer: Any) -> None:
        self.epoch_started = time.monotonic()
        self.epoch_images = 0
        self.validated = False

    def on_train_batch_end(self, trainer: Any) -> None:
        # Ultralytics checks its ``time`` after each optimizer step: keep it current from the first batch on
        self.epoch_images += int(trainer.batch_size)
        if self.epoch_started is not None and self.epoch_images:
            self.s_per_image = (time.monotonic() - self.epoch_started) / self.epoch_images
        self._set_time(trainer)

    def on_train_epoch_end(self, trainer: Any) -> None:
        self.trained += 1
        self.epoch_ended = time.monotonic()
        self._set_time(trainer)  # before Ultralytics re-estimates its epochs from ``time``

    def on_val_start(self, validator: Any) -> None:
        self.val_started = time.monotonic()

    def on_val_end(self, validator: Any) -> None:
        if self.val_started is not None:
            self.val_s = time.monotonic() - self.val_started
            self.validated = True
            logger.info("validation pass: %.1f s", self.val_s)

    def on_model_save(self, trainer: Any) -> None:
        if self.epoch_ended is not None:
            since = time.monotonic() - self.epoch_ended
            self.save_s = max(0.0, since - ((self.val_s or 0.0) if self.validated else 0.0))

    def on_fit_epoch_end(self, trainer: Any) -> None:
        if len(self.rows) >= self.trained:
            return  # the final evaluation of best.pt re-fires this callback
        losses = _loss_items(trainer)
        fresh = (trainer.metrics or {}) if self.validated else {}
        metrics = {clean_key(k): float(v) for k, v in fresh.items()}
        self.rows.append({"epoch": float(trainer.epoch + 1), **losses, **metrics})
        if self.progress is None:
            return
        elapsed = self.elapsed()
        report = make_progress(
            epoch=trainer.epoch + 1,
            epochs=int(trainer.epochs),
            elapsed_s=elapsed,
            train_s=time.time() - trainer.train_time_start,
            final_s=0.0 if trainer.args.val else self.closing_s(trainer),
            losses=losses,
            metrics=metrics,
            budget_s=self.budget.total_s if self.budget else None,
            left_s=self.budget.end_s - elapsed if self.budget else None,
        )
        try:
            self.progress(report)
        except Exception:  # a broken progress display must not end the training
            logger.exception("the progress callback failed at epoch %s", report.epoch)


def trainer_class() -> type:
    """Ultralytics' detection trainer without the second validation of the same weights at the end, and
    with the BatchNorm statistics of best.pt recomputed before it is validated when asked (precise BN).

    Ultralytics validates the last epoch, then validates best.pt again (``final_eval``). When best.pt holds
    the weights validated last (always with ``val=False``) the second pass is skipped: its metrics are kept.
    """
    from training.yolo.offline import ensure_offline

    ensure_offline()
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils.torch_utils import strip_optimizer

    from training.yolo.precise_bn import precise_bn_on_best

    class FactoryloopTrainer(DetectionTrainer):
        precise_bn_images = 0  # set by train_yolo(precise_bn=...): training.yolo.precise_bn

        def final_eval(self) -> None:
            recomputed = precise_bn_on_best(self, self.precise_bn_images) if self.precise_bn_images else 0
            fresh = self.fitness is not None and self.best_fitness == self.fitness and self.best.exists()
            if recomputed or not fresh:  # new statistics: best.pt is validated again
                super().final_eval()
                return
            ckpt = strip_optimizer(self.last) if self.last.exists() else {}
            strip_optimizer(self.best, updates={"train_results": ckpt.get("train_results")})

    return FactoryloopTrainer
