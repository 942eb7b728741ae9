"""BatchNorm statistics recomputed for the final weights ("precise BN", Wu & Johnson 2021, "Rethinking
"Batch" in BatchNorm").

During training each BatchNorm layer keeps running statistics as an exponential average over batches
(Ultralytics: momentum 0.03), taken while the weights kept changing, and the saved model is an EMA of the
weights with those statistics averaged alike. In a short fine-tune the statistics can end up unfit for the
final weights: the model then scores near zero in eval mode while its train loss looked fine (a collapse,
docs/benchmarks.md "A collapse at lr0 0.002"). Recomputing them as a plain average over augmented training
batches (the training's own loader) with the final weights fixes the statistics without changing a weight.
Session 4 recomputed them from letterboxed images without augmentation: that rescued a collapse but cost a
healthy model accuracy (its weights expect the statistics of augmented batches): here the loader is the
training's, augmentation included.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Next to best.pt: the weights with the statistics training left (for comparison; never served).
TRAINED_STATS_NAME = "best.trained-bn.pt"


def recompute_batchnorm(model: Any, batches: Iterable[Any]) -> int:
    """Reset every BatchNorm layer's running statistics of ``model`` (a torch module) and set them to the
    plain average over ``batches`` (image tensors, as the model takes them) in train mode without gradients;
    weights, momentum and mode are left as they were. Returns the number of images seen."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    layers = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    was_training = model.training
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: every batch counts the same
    model.train()
    seen = 0
    try:
        with torch.no_grad():
            for images in batches:
                model(images)
                seen += int(images.shape[0])
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return seen


def _images(trainer: Any, want: int) -> Iterator[Any]:
    """Augmented training batches from the trainer's own loader, preprocessed as in training, ``want``
    images or more (whole batches; the loader's epochs repeat)."""
    seen = 0
    while seen < want:
        before = seen
        for batch in trainer.train_loader:
            images = trainer.preprocess_batch(batch)["img"]
            seen += int(images.shape[0])
            yield images
            if seen >= want:
                return
        if seen == before:
            return  # an empty loader


def precise_bn_on_best(trainer: Any, images: int) -> int:
    """Recompute the statistics of the weights in ``trainer.best`` (an Ultralytics checkpoint, before
    ``final_eval`` strips it) over ``images`` augmented training images; the weights as trained are kept
    as :data:`TRAINED_STATS_NAME`. Returns the images seen (0: nothing changed)."""
    import torch

    best = Path(trainer.best)
    if images <= 0 or not best.is_file() or getattr(trainer, "train_loader", None) is None:
        return 0
    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    key = "ema" if ckpt.get("ema") is not None else "model"
    model = ckpt.get(key)
    if model is None:
        return 0
    dtype = next(model.parameters()).dtype
    model = model.float().to(trainer.device)
    seen = recompute_batchnorm(model, _images(trainer, images))
    if not seen:
        return 0
    shutil.copyfile(best, best.with_name(TRAINED_STATS_NAME))
    ckpt[key] = model.to("cpu").to(dtype)
    torch.save(ckpt, best)
    logger.info("BatchNorm statistics of %s recomputed over %d augmented training images", best, seen)
    return seen
