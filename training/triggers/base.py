"""The trigger plug-in interface: a trigger watches fleet events and says when a product needs a retrain.

Each trigger is one small class fed every outcome and label (``observe``) and asked, now and then, which
products are due (``due``). When a retrain of a product starts, every trigger forgets what it counted for that
product (``reset``), so one burst of evidence starts one retrain, not one per trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    """Why and when a product should be retrained; ``trigger`` names who asked (``manual``, ``api``, ...)."""

    product: str
    trigger: str
    reason: str
    at: datetime
    job_ids: tuple[int, ...] = ()  # the API's retrain jobs this request answers, if any


class Trigger(Protocol):
    name: str

    def observe(self, event: object, now: datetime) -> None:
        """Take one decoded fleet event (Outcome, Label, ...); ignore what does not concern this trigger."""
        ...

    def due(self, now: datetime) -> list[RetrainRequest]:
        """The products this trigger wants retrained now (at most one request per product)."""
        ...

    def reset(self, product: str, now: datetime) -> None:
        """A retrain of ``product`` started: start counting afresh."""
        ...
