"""N new reviewed labels of a product (optionally: only reviews that contain given classes) -> retrain."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from factoryloop.schemas import Label, ReviewAction
from training.triggers.base import RetrainRequest


class NewLabelsTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["new_labels"] = "new_labels"
    min_labels: int = Field(default=200, ge=1, description="Reviewed labels since the last retrain.")
    classes: tuple[str, ...] = Field(
        default=(), description="Count only reviews whose true detections include one of these classes."
    )
    actions: tuple[ReviewAction, ...] = Field(
        default=(ReviewAction.CONFIRM, ReviewAction.CORRECT, ReviewAction.REJECT),
        description="Review actions that count.",
    )


class NewLabelsTrigger:
    name = "new_labels"

    def __init__(self, config: NewLabelsTriggerConfig) -> None:
        self.config = config
        self.counts: dict[str, int] = {}

    def observe(self, event: object, now: datetime) -> None:
        if not isinstance(event, Label) or event.product is None or event.action not in self.config.actions:
            return
        wanted = self.config.classes
        if wanted and not any(d.class_name in wanted for d in event.detections):
            return
        self.counts[event.product] = self.counts.get(event.product, 0) + 1

    def due(self, now: datetime) -> list[RetrainRequest]:
        what = f"reviews with {'/'.join(self.config.classes)}" if self.config.classes else "reviewed labels"
        return [
            RetrainRequest(product, self.name, f"{n} new {what} (threshold {self.config.min_labels})", now)
            for product, n in sorted(self.counts.items())
            if n >= self.config.min_labels
        ]

    def reset(self, product: str, now: datetime) -> None:
        self.counts.pop(product, None)
