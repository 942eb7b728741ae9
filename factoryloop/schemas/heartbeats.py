"""Agent heartbeats and agent status events (both on the heartbeats topic, told apart by ``kind``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from factoryloop.schemas.base import Identifier, ModelRef, StationEvent, WireModel


class CameraHealth(WireModel):
    connected: bool
    brightness: float | None = Field(default=None, description="Mean grey level 0-255 of recent frames.")
    blur_score: float | None = Field(
        default=None, description="Variance of the Laplacian; low means out of focus."
    )
    frozen: bool = Field(default=False, description="The last frames were identical.")
    reconnects: int = Field(default=0, ge=0)


class Heartbeat(StationEvent):
    kind: Literal["heartbeat"] = "heartbeat"
    schema_version: Literal[1] = 1
    product: Identifier | None = Field(
        default=None, description="The agent's product (its config); the rollout controller's stages use it."
    )
    model: ModelRef | None = None
    shadow_model: ModelRef | None = None
    uptime_s: float = Field(ge=0)
    fps: float = Field(ge=0)
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    reject_latency_p50_ms: float | None = None
    reject_latency_p99_ms: float | None = None
    frames_captured: int = Field(default=0, ge=0)
    frames_inspected: int = Field(default=0, ge=0)
    frames_dropped: int = Field(default=0, ge=0)
    frames_corrupt: int = Field(default=0, ge=0)
    frames_stale: int = Field(
        default=0,
        ge=0,
        description="Frames a live camera replaced before they were read (newest-frame mode): the agent was "
        "slower than the camera.",
    )
    queue_depths: dict[str, int] = Field(default_factory=dict)
    buffer_records: int = Field(default=0, ge=0)
    buffer_bytes: int = Field(default=0, ge=0)
    buffer_evicted: int = Field(default=0, ge=0)
    buffer_max_bytes: int | None = Field(
        default=None, ge=1, description="The disk buffer's budget (the line YAML's buffer.max_bytes)."
    )
    sink_failures: dict[str, int] = Field(default_factory=dict)
    errors: int = Field(default=0, ge=0, description="Errors since start (inference, publish, model load).")
    verdicts: dict[str, int] = Field(default_factory=dict, description="Counts per verdict since start.")
    camera: CameraHealth
    last_model_error: str | None = Field(default=None, max_length=2000)
    models_rejected: dict[str, int] = Field(
        default_factory=dict,
        description="Deployments refused since start, per reason: signature, product (another product than "
        "the agent's), fetch, sha256, load, classes (lacks a class the rules name), smoke.",
    )
    parts_triggered: int = Field(default=0, ge=0, description="Parts the station's trigger saw since start.")
    late_rejects: int = Field(
        default=0, ge=0, description="Rejects not fired: the verdict came after the part passed the ejector."
    )
    missed_parts: int = Field(
        default=0,
        ge=0,
        description="Triggered parts without a verdict while in reach of the ejector (no frame, a dropped "
        "frame, an inference error, a verdict too late); the fail-safe rejects them or lets them through.",
    )


class AgentEventType(StrEnum):
    MODEL_LOADED = "model_loaded"
    MODEL_REJECTED = "model_rejected"
    SOURCE_DOWN = "source_down"
    SOURCE_UP = "source_up"
    STARTED = "started"
    STOPPED = "stopped"


class AgentEvent(StationEvent):
    kind: Literal["agent_event"] = "agent_event"
    schema_version: Literal[1] = 1
    type: AgentEventType
    deployment_id: str | None = None
    model: ModelRef | None = None
    detail: str = Field(default="", max_length=4000)
