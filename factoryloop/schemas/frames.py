"""Frame messages: JPEG bytes plus metadata, in one binary envelope (no base64 on the hot path).

Layout of the Kafka value: ``b"FLF1"`` + uint32 big-endian length of the JSON header + JSON header
(a :class:`FrameMeta`) + the JPEG bytes. ``FrameMeta.jpeg_sha256`` lets any consumer verify the payload.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from factoryloop.schemas.base import Sha256Hex, StationEvent, UtcDatetime


class FrameMeta(StationEvent):
    kind: Literal["frame"] = "frame"
    schema_version: Literal[1] = 1
    frame_id: str = Field(min_length=1, max_length=64, description="Agent-local id of the captured frame.")
    item_id: str | None = Field(default=None, max_length=128, description="Inspected item (part) id.")
    product: str | None = Field(default=None, max_length=64)
    captured_at: UtcDatetime
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)
    jpeg_sha256: Sha256Hex
    outcome_event_id: str | None = Field(default=None, description="The outcome this frame belongs to.")
    sample_reason: str | None = Field(
        default=None, max_length=64, description="Why the sampling policy sent it (fail, uncertain, ...)."
    )
    source_frame_index: int | None = Field(
        default=None, ge=0, description="Index in a replayed/simulated source."
    )
