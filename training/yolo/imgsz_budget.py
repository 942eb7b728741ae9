"""Fit the input size to a time budget: the largest size the data asks for that still trains enough epochs.

``training.yolo.imgsz`` chooses the size the *data* asks for (small defects need a large size). Under a time
budget that size can leave too few epochs to learn anything: magnetic tiles asked for 512, which took 7 min
per epoch on two cores, 4 epochs in 30 min and a model that found nothing (docs/benchmarks.md, "Magnetic
tiles through the CLI alone"). :func:`fit_imgsz` keeps the data's size when the budget gives it at least
``MIN_EPOCHS`` epochs, else the largest smaller candidate that does (the smallest candidate if none does).

The cost of an epoch comes from a probe (:func:`probe_seconds_per_image`): a few real training steps
(forward, the detection loss, backward, an AdamW step) of the model to be trained, on random images at the
data's size, with the torch threads the training will use. A convolution's work grows with the pixels, so
the cost at another size is scaled by the square of the size ratio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.errors import ModelBuildError
from training.yolo.imgsz import CANDIDATES, choose_imgsz, dataset_sizes
from training.yolo.offline import yolo_class

logger = logging.getLogger(__name__)

#: Epochs a first model needs at least: NEU-DET from scratch gave mAP50 0.45-0.53 after 15-23 epochs at 160;
#: magnetic tiles gave 0.000 after 4 at 512 (docs/benchmarks.md, "A plant's own data through the CLI alone").
MIN_EPOCHS = 15
#: The data path and the trainer's bookkeeping on top of the probed step (NEU-DET at 160: 4-8 % data path).
OVERHEAD = 1.15
#: Share of the budget left for the setup before the loop and the closing validation (budget.py's guess).
RESERVED_SHARE = 0.1
PROBE_BATCH = 4
PROBE_STEPS = 2


@dataclass(frozen=True)
class SizeChoice:
    """The size to train at, what the data asked for and the epochs each is expected to get."""

    imgsz: int
    wanted: int
    epochs_at_wanted: float
    epochs_at_chosen: float

    @property
    def reduced(self) -> bool:
        return self.imgsz < self.wanted

    def describe(self) -> str:
        if not self.reduced:
            return f"input size {self.imgsz} (~{self.epochs_at_chosen:.0f} epochs fit the budget)"
        return (
            f"input size {self.imgsz} instead of the {self.wanted} the data asks for: at {self.wanted} the "
            f"budget fits ~{self.epochs_at_wanted:.1f} epochs, at {self.imgsz} ~{self.epochs_at_chosen:.0f} "
            f"(at least {MIN_EPOCHS} wanted; a longer --time-budget keeps the larger size)"
        )


def epochs_that_fit(train_s: float, n_images: int, s_per_image: float) -> float:
    """Epochs of ``n_images`` at ``s_per_image`` (x OVERHEAD) in ``train_s`` seconds."""
    if n_images <= 0 or s_per_image <= 0:
        return float("inf")
    return max(0.0, train_s) / (n_images * s_per_image * OVERHEAD)


def fit_imgsz(
    wanted: int,
    *,
    train_s: float,
    n_images: int,
    s_per_image_at_wanted: float,
    min_epochs: float = MIN_EPOCHS,
    candidates: Sequence[int] = CANDIDATES,
) -> SizeChoice:
    """``wanted`` if ``min_epochs`` fit in ``train_s``, else the largest smaller candidate where they do.

    The cost at size ``s`` is ``s_per_image_at_wanted * (s / wanted) ** 2``; no candidate fits: the smallest
    one (the most epochs the budget allows).
    """

    def epochs(size: int) -> float:
        return epochs_that_fit(train_s, n_images, s_per_image_at_wanted * (size / wanted) ** 2)

    at_wanted = epochs(wanted)
    if at_wanted >= min_epochs:
        return SizeChoice(wanted, wanted, at_wanted, at_wanted)
    smaller = sorted((c for c in candidates if c < wanted), reverse=True)
    if not smaller:
        return SizeChoice(wanted, wanted, at_wanted, at_wanted)
    chosen = next((c for c in smaller if epochs(c) >= min_epochs), smaller[-1])
    return SizeChoice(chosen, wanted, at_wanted, epochs(chosen))


def probe_seconds_per_image(
    model: str, imgsz: int, *, threads: int, batch: int = PROBE_BATCH, steps: int = PROBE_STEPS
) -> float:
    """Wall seconds per image of a training step of ``model`` (YAML or .pt) at ``imgsz`` on this CPU.

    One warm-up step, then ``steps`` timed ones, on a copy of the model (the caller's weights are untouched).
    """
    yolo = yolo_class()  # sets Ultralytics offline before anything of it is imported
    import torch
    from ultralytics.cfg import get_cfg

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        net = yolo(model).model
        net.args = get_cfg()  # the loss gains (box, cls, dfl) the trainer would give it
        net.train()
        for p in net.parameters():
            p.requires_grad_(True)
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
        gen = torch.Generator().manual_seed(0)
        targets = {
            "img": torch.rand(batch, 3, imgsz, imgsz, generator=gen),
            "cls": torch.zeros(2 * batch, 1),
            "bboxes": torch.tensor([[0.3, 0.3, 0.2, 0.1], [0.7, 0.6, 0.1, 0.3]] * batch),
            "batch_idx": torch.arange(batch).repeat_interleave(2).float(),
        }
        elapsed = 0.0
        for step in range(steps + 1):
            started = time.perf_counter()
            optimizer.zero_grad()
            loss, _ = net.loss(targets)
            loss.sum().backward()
            optimizer.step()
            if step:  # the first step builds caches and allocates: not timed
                elapsed += time.perf_counter() - started
    finally:
        torch.set_num_threads(previous)
    return elapsed / (steps * batch)


def imgsz_for_budget(data_yaml: Path, model: str, *, train_s: float, threads: int) -> SizeChoice:
    """The data's size (``training.yolo.imgsz``) fitted to ``train_s`` seconds of training (module doc).

    ``train_s`` is what the budget leaves for the epochs; the probe's own seconds are taken from it.
    """
    images, boxes = dataset_sizes(data_yaml)
    if not images:
        raise ModelBuildError(f"{data_yaml}: the train split has no images")
    wanted = choose_imgsz(images, boxes)
    started = time.monotonic()
    cost = probe_seconds_per_image(model, wanted, threads=threads)
    left = train_s - (time.monotonic() - started)
    choice = fit_imgsz(wanted, train_s=left, n_images=len(images), s_per_image_at_wanted=cost)
    logger.info(
        "%s; probe: %.1f ms per training image at %s with %s thread(s), %s train images",
        choice.describe(),
        cost * 1000,
        wanted,
        threads,
        len(images),
    )
    return choice
