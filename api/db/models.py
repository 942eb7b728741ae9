"""Tables of the API database. Events are stored once, keyed by their Kafka ``event_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.alert_models import AlertDeliveryRow, AlertRow
from api.db.base import Base, EventId
from api.db.review_models import ClassDayRow, ReviewQueueRow, ReviewRow
from api.db.rollout_models import RolloutRow
from api.db.types import UtcDateTime

__all__ = [  # the review, rollout and alert tables live in their own modules, re-exported with the others
    "AgentEventRow",
    "AgentRow",
    "AlertDeliveryRow",
    "AlertRow",
    "Base",
    "ClassDayRow",
    "ClassSightingRow",
    "DeploymentRow",
    "DetectionRow",
    "EventId",
    "FrameRow",
    "HeartbeatRow",
    "HourlyDetectionRow",
    "HourlyInspectionRow",
    "InspectionRow",
    "RetrainJobRow",
    "ReviewQueueRow",
    "ReviewRow",
    "RolloutRow",
    "TokenRow",
]


class InspectionRow(Base):
    """One outcome: the decision an agent made about one inspected item."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime())
    line_id: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str] = mapped_column(String(128))
    frame_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(128))
    product: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    thresholds: Mapped[dict[str, float]] = mapped_column(JSON)
    decision_ms: Mapped[float] = mapped_column(Float)
    inference_ms: Mapped[float] = mapped_column(Float)
    reject_ms: Mapped[float | None] = mapped_column(Float)
    frame_sha256: Mapped[str] = mapped_column(String(64))
    frame_width: Mapped[int] = mapped_column(Integer)
    frame_height: Mapped[int] = mapped_column(Integer)
    frame_sent: Mapped[bool] = mapped_column(Boolean)
    sample_reason: Mapped[str | None] = mapped_column(String(64))
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    n_detections: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        # (ts, id) for time-ordered pages; the rest covers the partial-hour edges of the stats.
        Index("ix_inspections_ts_cover", "ts", "id", "line_id", "station_id", "verdict", "shadow"),
        Index("ix_inspections_line_ts", "line_id", "ts", "id"),
        Index("ix_inspections_line_verdict_ts", "line_id", "verdict", "ts", "id"),
        Index("ix_inspections_verdict_ts", "verdict", "ts", "id"),
        Index("ix_inspections_frame", "frame_sha256"),
    )


class DetectionRow(Base):
    """A box of an outcome; line, time and verdict are copied here so per-class stats need no join."""

    __tablename__ = "detections"

    outcome_event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    line_id: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    verdict: Mapped[str] = mapped_column(String(16))
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
    class_id: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_detections_class_ts", "class_name", "ts"),
        Index("ix_detections_line_class_ts", "line_id", "class_name", "ts"),
        Index("ix_detections_ts_cover", "ts", "line_id", "station_id", "class_name", "verdict", "shadow"),
    )


class _HourlyKey:
    """The key columns both hourly summary tables share: UTC hour, line, station, product ('' if none),
    verdict. ``sort_order`` puts them first in the table and key, in this order (mixin columns come last
    otherwise)."""

    hour: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True, sort_order=-1)
    line_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-1)
    station_id: Mapped[str] = mapped_column(String(128), primary_key=True, sort_order=-1)
    product: Mapped[str] = mapped_column(String(64), primary_key=True, sort_order=-1)
    verdict: Mapped[str] = mapped_column(String(16), primary_key=True, sort_order=-1)


class HourlyInspectionRow(_HourlyKey, Base):
    """Non-shadow inspections counted per UTC hour, line, station, product ('' if none) and verdict.

    Maintained by the sink in the transaction of the inserts (only rows actually inserted are counted)."""

    __tablename__ = "hourly_inspections"

    n: Mapped[int] = mapped_column(Integer)


class HourlyDetectionRow(_HourlyKey, Base):
    """Detections of non-shadow inspections per UTC hour, line, station, product, verdict and class, with the
    first and last detection time in the hour (for first-seen)."""

    __tablename__ = "hourly_detections"

    class_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    first_ts: Mapped[datetime] = mapped_column(UtcDateTime())
    last_ts: Mapped[datetime] = mapped_column(UtcDateTime())


class ClassSightingRow(Base):
    """First and last detection and count per line and class, of non-shadow FAIL/UNCERTAIN inspections
    (first-seen without scanning history); kept by the sink like the hourly summaries."""

    __tablename__ = "class_sightings"

    line_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    class_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    first_ts: Mapped[datetime] = mapped_column(UtcDateTime())
    last_ts: Mapped[datetime] = mapped_column(UtcDateTime())


class FrameRow(Base):
    """A stored JPEG, addressed by its sha256; ``path`` is relative to the frame store."""

    __tablename__ = "frames"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    line_id: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    outcome_event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sample_reason: Mapped[str | None] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_frames_received", "received_at", "sha256"),)  # retention's walk (0011)


class AgentRow(Base):
    """Latest heartbeat of each agent (upserted when a newer one arrives)."""

    __tablename__ = "agents"

    agent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(128))
    station_id: Mapped[str] = mapped_column(String(128))
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(64))
    fps: Mapped[float] = mapped_column(Float)
    latency_p50_ms: Mapped[float | None] = mapped_column(Float)
    latency_p99_ms: Mapped[float | None] = mapped_column(Float)
    buffer_records: Mapped[int] = mapped_column(Integer)
    camera_connected: Mapped[bool] = mapped_column(Boolean)
    heartbeat: Mapped[dict[str, Any]] = mapped_column(JSON)


class HeartbeatRow(Base):
    """Heartbeat history (for charts and audits)."""

    __tablename__ = "heartbeats"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[str] = mapped_column(String(128))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    fps: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))
    # Counters since the agent's start (null in rows stored before migration 0010): the late_rejects alert.
    uptime_s: Mapped[float | None] = mapped_column(Float)
    late_rejects: Mapped[int | None] = mapped_column(Integer)
    missed_parts: Mapped[int | None] = mapped_column(Integer)
    # The agent page's charts (null in rows stored before migration 0012); frames_dropped and errors are
    # counters since the agent's start.
    latency_p50_ms: Mapped[float | None] = mapped_column(Float)
    latency_p99_ms: Mapped[float | None] = mapped_column(Float)
    buffer_records: Mapped[int | None] = mapped_column(Integer)
    frames_dropped: Mapped[int | None] = mapped_column(Integer)
    errors: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_heartbeats_agent_ts", "agent_id", "ts"),
        Index("ix_heartbeats_ts", "ts", "id"),  # retention's walk (0011)
    )


class AgentEventRow(Base):
    __tablename__ = "agent_events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[str] = mapped_column(String(128), index=True)
    line_id: Mapped[str] = mapped_column(String(128))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    type: Mapped[str] = mapped_column(String(32))
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_agent_events_ts", "ts", "id"),)  # retention's walk (0011)


class DeploymentRow(Base):
    """Every Deployment seen on Kafka (the full payload kept so a rollback can re-publish it)."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    deployment_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime())
    target: Mapped[str] = mapped_column(String(128))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_deployments_target_ts", "target", "ts", "id"),)


class RetrainJobRow(Base):
    """A retrain request: queued by an engineer, claimed and reported on by a trainer worker."""

    __tablename__ = "retrain_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(64))
    line_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    progress: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class TokenRow(Base):
    """An API token: only its HMAC-SHA256 is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # None: never
