"""Factories of valid wire events, so each test states only what it cares about."""

from __future__ import annotations

import hashlib
from typing import Any

from factoryloop.schemas import (
    AgentEvent,
    AgentEventType,
    Box,
    CameraHealth,
    DeadLetter,
    Deployment,
    Detection,
    FrameMeta,
    Heartbeat,
    Label,
    Latency,
    ModelRef,
    Outcome,
    ReviewAction,
    utc_now,
)

STATION = {"line_id": "line-1", "station_id": "st-1", "agent_id": "agent-1"}


def jpeg_bytes(size: int = 1000, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 256 for i in range(size))


def detection(**kw: Any) -> Detection:
    base: dict[str, Any] = {
        "class_id": 0,
        "class_name": "scratch",
        "confidence": 0.9,
        "box": Box(x1=10, y1=20, x2=50, y2=60),
    }
    return Detection(**(base | kw))


def outcome(**kw: Any) -> Outcome:
    base: dict[str, Any] = {
        **STATION,
        "frame_id": "f-1",
        "captured_at": utc_now(),
        "verdict": "FAIL",
        "detections": (detection(),),
        "model": ModelRef(name="widget", version="3", sha256="b" * 64),
        "thresholds": {"scratch": 0.5},
        "latency": Latency(capture_to_decision_ms=12.5, inference_ms=9.0),
        "frame_sha256": "a" * 64,
        "frame_width": 640,
        "frame_height": 480,
        "frame_sent": True,
    }
    return Outcome(**(base | kw))


def frame(jpeg: bytes, **kw: Any) -> FrameMeta:
    base: dict[str, Any] = {
        **STATION,
        "frame_id": "f-1",
        "captured_at": utc_now(),
        "width": 640,
        "height": 480,
        "jpeg_sha256": hashlib.sha256(jpeg).hexdigest(),
    }
    return FrameMeta(**(base | kw))


def label(**kw: Any) -> Label:
    base: dict[str, Any] = {
        **STATION,
        "outcome_event_id": "e" * 32,
        "frame_sha256": "a" * 64,
        "action": ReviewAction.CORRECT,
        "detections": (detection(confidence=1.0),),
        "reviewer": "alice",
    }
    return Label(**(base | kw))


def deployment(**kw: Any) -> Deployment:
    base: dict[str, Any] = {
        "deployment_id": "d" * 32,
        "target": "line-1",
        "model_name": "widget",
        "model_version": "4",
        "artifact_uri": "file:///tmp/model.onnx",
        "sha256": "c" * 64,
        "class_names": ("scratch", "dent"),
        "imgsz": 320,
    }
    return Deployment(**(base | kw))


def heartbeat(**kw: Any) -> Heartbeat:
    base: dict[str, Any] = {**STATION, "uptime_s": 10.0, "fps": 25.0, "camera": CameraHealth(connected=True)}
    return Heartbeat(**(base | kw))


def agent_event(**kw: Any) -> AgentEvent:
    base: dict[str, Any] = {**STATION, "type": AgentEventType.MODEL_REJECTED, "detail": "sha256 mismatch"}
    return AgentEvent(**(base | kw))


def dead_letter(**kw: Any) -> DeadLetter:
    base: dict[str, Any] = {
        "source_topic": "t",
        "source_partition": 0,
        "source_offset": 5,
        "value_b64": DeadLetter.b64(b"garbage") or "",
        "reason": "bad",
    }
    return DeadLetter(**(base | kw))
