"""Tables of reviews: the audit trail of labels, the review queue with its priorities, and the per-day class
counts the priorities read (re-exported by ``api.db.models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.base import Base, EventId
from api.db.types import UtcDateTime


class ReviewRow(Base):
    """Audit trail of reviews (labels), from this API or from the labels topic."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome_event_id: Mapped[str] = mapped_column(String(64), index=True)
    frame_sha256: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    detections: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reviewer: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(String(64))
    review_ms: Mapped[int | None] = mapped_column(Integer)  # time from showing the frame to the submit
    priority: Mapped[float | None] = mapped_column(Float)  # the queue's priority when reviewed
    offered_for: Mapped[str | None] = mapped_column(String(16))  # its largest component (priority.py)

    __table_args__ = (
        Index("ix_reviews_ts", "ts"),
        Index("ix_reviews_frame", "frame_sha256"),  # retention keeps a reviewed frame (0011)
    )


class ClassDayRow(Base):
    """Detections of non-shadow inspections per line, product ('' if none), class and UTC day (every
    verdict): the sink reads the last days of a class to score its rarity in the review queue."""

    __tablename__ = "class_days"

    line_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    product: Mapped[str] = mapped_column(String(64), primary_key=True)
    class_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ReviewQueueRow(Base):
    """An inspection waiting for review (non-shadow, UNCERTAIN or sampled, not reviewed yet) with its review
    priority, computed by the sink at write time (``api.services.priority``); deleted when reviewed."""

    __tablename__ = "review_queue"

    outcome_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime())
    line_id: Mapped[str] = mapped_column(String(128))
    product: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(128))
    frame_id: Mapped[str] = mapped_column(String(64))
    frame_sha256: Mapped[str] = mapped_column(String(64))
    uncertainty: Mapped[float] = mapped_column(Float)
    rarity: Mapped[float] = mapped_column(Float)
    disagreement: Mapped[float] = mapped_column(Float)
    priority: Mapped[float] = mapped_column(Float)
    rank: Mapped[float] = mapped_column(Float)  # priority + recency: the queue's order
    reason: Mapped[str] = mapped_column(String(255))

    __table_args__ = (
        Index("ix_review_queue_rank", "rank", "ts", "outcome_event_id"),
        Index("ix_review_queue_line_rank", "line_id", "rank", "ts", "outcome_event_id"),
        Index("ix_review_queue_ts", "ts", "outcome_event_id"),
        Index("ix_review_queue_line_ts", "line_id", "ts", "outcome_event_id"),
        Index("ix_review_queue_frame", "agent_id", "frame_id"),  # a shadow outcome finds its champion
        Index("ix_review_queue_sha256", "frame_sha256"),  # retention keeps a queued frame (0011)
    )
