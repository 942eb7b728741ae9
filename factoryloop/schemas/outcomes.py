"""Outcome messages: one per inspected item, the decision and everything needed to audit it."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from factoryloop.schemas.base import Detection, ModelRef, Sha256Hex, StationEvent, UtcDatetime, WireModel


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    UNCERTAIN = "UNCERTAIN"


class Latency(WireModel):
    """Milliseconds spent in each step of the agent's pipeline for this item."""

    capture_to_decision_ms: float = Field(ge=0)
    inference_ms: float = Field(ge=0)
    capture_to_reject_ms: float | None = Field(default=None, ge=0)


class Outcome(StationEvent):
    kind: Literal["outcome"] = "outcome"
    schema_version: Literal[1] = 1
    frame_id: str = Field(min_length=1, max_length=64)
    item_id: str | None = Field(default=None, max_length=128)
    product: str | None = Field(default=None, max_length=64)
    captured_at: UtcDatetime
    verdict: Verdict
    detections: tuple[Detection, ...] = ()
    model: ModelRef
    thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-class confidence thresholds used."
    )
    latency: Latency
    frame_sha256: Sha256Hex
    frame_width: int = Field(gt=0)
    frame_height: int = Field(gt=0)
    frame_sent: bool = Field(description="True when the frame itself was published to the frames topic.")
    sample_reason: str | None = Field(default=None, max_length=64)
    shadow: bool = Field(default=False, description="Made by a shadow (challenger) model; not acted upon.")
    source_frame_index: int | None = Field(default=None, ge=0)
