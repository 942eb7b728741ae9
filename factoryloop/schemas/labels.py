"""Label messages: the result of a human (or simulated-supervisor) review of one inspected frame."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from factoryloop.schemas.base import Detection, Identifier, Sha256Hex, StationEvent


class ReviewAction(StrEnum):
    CONFIRM = "confirm"  # the model's detections are right as they are
    REJECT = "reject"  # the model's detections are wrong: the part is good (no defect)
    CORRECT = "correct"  # the reviewer supplies the true detections


class LabelSource(StrEnum):
    HUMAN = "human"
    ORACLE = "oracle"  # simulated supervisor (ground truth of the simulated line)


class Label(StationEvent):
    kind: Literal["label"] = "label"
    schema_version: Literal[1] = 1
    outcome_event_id: str = Field(
        min_length=8, max_length=64, description="The outcome this review is about."
    )
    frame_sha256: Sha256Hex
    product: str | None = Field(default=None, max_length=64)
    action: ReviewAction
    detections: tuple[Detection, ...] = Field(
        default=(), description="The true detections after review (confidence 1.0 for human boxes)."
    )
    reviewer: Identifier
    source: LabelSource = LabelSource.HUMAN
    comment: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _check_action(self) -> Label:
        if self.action is ReviewAction.REJECT and self.detections:
            raise ValueError("a 'reject' review means no defect: it must not carry detections")
        return self
