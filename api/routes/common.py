"""Shared query parameter types and response pieces."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

IdText = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
EventId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Since = Annotated[datetime | None, Query(description="Start of the time range (ISO 8601; UTC if no offset).")]
Until = Annotated[datetime | None, Query(description="End of the time range (ISO 8601; UTC if no offset).")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1-500).")]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class BoxOut(Out):
    x1: float
    y1: float
    x2: float
    y2: float


class DetectionOut(Out):
    class_id: int
    class_name: str
    confidence: float
    box: BoxOut


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, invalid or revoked token"},
    403: {"model": ErrorOut, "description": "The token's role is too low for this route"},
    422: {"model": ErrorOut, "description": "Invalid parameters"},
}


def detection_out(d: dict[str, Any] | Any) -> DetectionOut:
    if isinstance(d, dict):
        return DetectionOut.model_validate(d)
    return DetectionOut(
        class_id=d.class_id,
        class_name=d.class_name,
        confidence=d.confidence,
        box=BoxOut(x1=d.x1, y1=d.y1, x2=d.x2, y2=d.y2),
    )


def detection_dict(d: Any) -> dict[str, Any]:
    """A detection row as the plain dict of :class:`DetectionOut` (validated with the page around it)."""
    return {
        "class_id": d.class_id,
        "class_name": d.class_name,
        "confidence": d.confidence,
        "box": {"x1": d.x1, "y1": d.y1, "x2": d.x2, "y2": d.y2},
    }


class Page(BaseModel):
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null at the end."
    )
