"""The trigger plug-in interface: a trigger watches fleet events and says when a product needs a retrain.

Each trigger is one small class fed every outcome and label (``observe``) and asked, now and then, which
products are due (``due``). When a retrain of a product is queued, every trigger forgets what it counted for
that product (``reset``), so one burst of evidence starts one retrain, not one per trigger. A trigger whose
evidence is stored (``new_labels`` reads the dataset store) keeps it across restarts: :class:`TriggerContext`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from training.datasets import DatasetStore
    from training.triggers.state import TrainerState


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    """Why and when a product should be retrained; ``trigger`` names who asked (``manual``, ``api``, ...)."""

    product: str
    trigger: str
    reason: str
    at: datetime
    job_ids: tuple[int, ...] = ()  # the API's retrain jobs this request answers, if any


@dataclass(frozen=True, slots=True)
class TriggerContext:
    """What a trigger is built with: the time, and where it may read or keep its evidence.

    ``store``: the dataset store, where ``new_labels`` counts the reviews stored (None: it counts the Label
    events it observes, in memory); ``state``: the trainer's state, where ``schedule`` keeps its last runs
    (None: in memory)."""

    now: datetime
    store: DatasetStore | None = None
    state: TrainerState | None = None


class Trigger(Protocol):
    name: str

    def observe(self, event: object, now: datetime) -> None:
        """Take one decoded fleet event (Outcome, Label, ...); ignore what does not concern this trigger."""
        ...

    def due(self, now: datetime) -> list[RetrainRequest]:
        """The products this trigger wants retrained now (at most one request per product)."""
        ...

    def reset(self, product: str, now: datetime) -> None:
        """A retrain of ``product`` was queued: start counting afresh."""
        ...
