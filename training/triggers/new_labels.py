"""N new reviews of a product (optionally: only reviews with given classes or actions) -> retrain.

With a dataset store (the trainer service) the trigger counts the reviews *stored* for each product
after the product's mark (``DatasetStore.review_counts``): a request can only fire once its reviews are in
the store, and the count survives a restart because it is the store's. ``reset`` moves the product's mark
to the newest label stored (``DatasetStore.mark_reviews``), durably, when the product's retrain is queued.

Without a store it counts the Label events it observes, in memory (lost on restart, and racing the ingest
consumer that stores them): what callers that only feed events get.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from factoryloop.schemas import Label, ReviewAction
from training.triggers.base import RetrainRequest

if TYPE_CHECKING:
    from training.datasets import DatasetStore

ALL_ACTIONS = (ReviewAction.CONFIRM, ReviewAction.CORRECT, ReviewAction.REJECT)


class NewLabelsTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["new_labels"] = "new_labels"
    min_labels: int = Field(default=200, ge=1, description="Reviews since the product's last retrain.")
    classes: tuple[str, ...] = Field(
        default=(), description="Count only reviews whose true boxes include one of these classes."
    )
    actions: tuple[ReviewAction, ...] = Field(default=ALL_ACTIONS, description="Review actions that count.")


class NewLabelsTrigger:
    name = "new_labels"

    def __init__(self, config: NewLabelsTriggerConfig, store: DatasetStore | None = None) -> None:
        self.config = config
        self.store = store
        self.counts: dict[str, int] = {}  # without a store: Label events observed since the last reset

    def observe(self, event: object, now: datetime) -> None:
        if self.store is not None:
            return  # the store counts what the ingest wrote
        if not isinstance(event, Label) or event.product is None or event.action not in self.config.actions:
            return
        wanted = self.config.classes
        if wanted and not any(d.class_name in wanted for d in event.detections):
            return
        self.counts[event.product] = self.counts.get(event.product, 0) + 1

    def pending(self) -> dict[str, int]:
        """Per product, the reviews counted towards its next retrain."""
        if self.store is None:
            return dict(self.counts)
        actions = () if set(self.config.actions) == set(ALL_ACTIONS) else self.config.actions
        return self.store.review_counts(classes=self.config.classes, actions=[a.value for a in actions])

    def due(self, now: datetime) -> list[RetrainRequest]:
        what = f"reviews with {'/'.join(self.config.classes)}" if self.config.classes else "reviewed labels"
        return [
            RetrainRequest(product, self.name, f"{n} new {what} (threshold {self.config.min_labels})", now)
            for product, n in sorted(self.pending().items())
            if n >= self.config.min_labels
        ]

    def reset(self, product: str, now: datetime) -> None:
        if self.store is not None:
            self.store.mark_reviews(product)
        self.counts.pop(product, None)
