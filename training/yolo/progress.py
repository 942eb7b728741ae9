"""What :func:`training.yolo.train_yolo` reports after each epoch, and the ETA arithmetic behind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _frozen(values: Mapping[str, float] | None = None) -> Mapping[str, float]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class TrainProgress:
    """One epoch done.

    ``epochs`` is the planned number: the recipe's, or under a time budget Ultralytics' estimate of how many
    fit (it changes from epoch to epoch). ``elapsed_s`` counts from the call of ``train_yolo`` (dataset
    caching and model build included); ``eta_s`` is what is left until ``train_yolo`` returns (the final
    validation included). ``metrics`` is empty for an epoch that was not validated.
    """

    epoch: int
    epochs: int
    elapsed_s: float
    eta_s: float
    losses: Mapping[str, float] = field(default_factory=_frozen)
    metrics: Mapping[str, float] = field(default_factory=_frozen)
    budget_s: float | None = None

    @property
    def fraction(self) -> float:
        """Share of the run done, in [0, 1]: elapsed / (elapsed + ETA)."""
        total = self.elapsed_s + self.eta_s
        return min(1.0, self.elapsed_s / total) if total > 0 else 1.0


ProgressCallback = Callable[[TrainProgress], None]


def eta_seconds(
    *,
    epoch: int,
    epochs: int,
    train_s: float,
    final_s: float = 0.0,
    left_s: float | None = None,
) -> float:
    """Seconds left: the remaining epochs at the mean epoch time so far, plus ``final_s`` (the closing work:
    a last validation). ``train_s`` is the time of the ``epoch`` epochs done (their validations included).
    Under a time budget ``left_s`` (the time to its end) caps the result: the run stops there."""
    if epoch <= 0:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    mean = max(train_s, 0.0) / epoch
    eta = max(epochs - epoch, 0) * mean + max(final_s, 0.0)
    if left_s is not None:
        eta = min(eta, max(left_s, 0.0))
    return eta


def make_progress(
    *,
    epoch: int,
    epochs: int,
    elapsed_s: float,
    train_s: float,
    final_s: float,
    losses: Mapping[str, float] | None = None,
    metrics: Mapping[str, float] | None = None,
    budget_s: float | None = None,
    left_s: float | None = None,
) -> TrainProgress:
    """A :class:`TrainProgress` with its ETA from :func:`eta_seconds`."""
    return TrainProgress(
        epoch=epoch,
        epochs=max(epochs, epoch),
        elapsed_s=elapsed_s,
        eta_s=eta_seconds(epoch=epoch, epochs=epochs, train_s=train_s, final_s=final_s, left_s=left_s),
        losses=_frozen(losses),
        metrics=_frozen(metrics),
        budget_s=budget_s,
    )
