"""Fields every Kafka payload carries: schema version, event id, where it came from, when (UTC)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC), e.g. 2026-01-01T00:00:00Z")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_to_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return uuid.uuid4().hex


class WireModel(BaseModel):
    """Base of every payload model: immutable, unknown fields refused so typos never pass silently."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(WireModel):
    """Envelope fields shared by every event. ``event_id`` is what consumers dedupe on."""

    schema_version: int = 1
    event_id: str = Field(default_factory=new_event_id, min_length=8, max_length=64)
    ts: UtcDatetime = Field(default_factory=utc_now, description="When the event was created (UTC).")


class StationEvent(Event):
    """An event that belongs to one station of one line, emitted by one agent."""

    line_id: Identifier
    station_id: Identifier
    agent_id: Identifier

    @property
    def station_key(self) -> str:
        """Kafka key: all events of one station land on one partition, in order."""
        return f"{self.line_id}/{self.station_id}"


class Box(WireModel):
    """An axis-aligned box in pixels of the original (not letterboxed) frame."""

    x1: float = Field(ge=0)
    y1: float = Field(ge=0)
    x2: float = Field(ge=0)
    y2: float = Field(ge=0)

    def model_post_init(self, _context: object) -> None:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError(f"box must have x2 > x1 and y2 > y1, got {self.x1, self.y1, self.x2, self.y2}")

    @property
    def area(self) -> float:
        return (self.x2 - self.x1) * (self.y2 - self.y1)


class Detection(WireModel):
    class_id: int = Field(ge=0)
    class_name: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)
    box: Box


class ModelRef(WireModel):
    """Which model made a decision."""

    name: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=64)
    sha256: Sha256Hex | None = None
