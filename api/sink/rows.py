"""Turn decoded events into table rows (plain dicts, ready for executemany)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from factoryloop.schemas import (
    AgentEvent,
    Deployment,
    FramePayload,
    Heartbeat,
    Label,
    Outcome,
    RolloutEvent,
    RolloutRequest,
    RolloutState,
)


@dataclass
class RowBatch:
    inspections: list[dict[str, Any]] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)
    frames: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest heartbeat per agent
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    agent_events: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    rollouts: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0

    def __len__(self) -> int:
        return (
            len(self.inspections)
            + len(self.frames)
            + len(self.reviews)
            + len(self.heartbeats)
            + len(self.agent_events)
            + len(self.deployments)
            + len(self.rollouts)
        )


def _outcome(batch: RowBatch, o: Outcome, now: datetime) -> None:
    # The hot path of the sink: each attribute read once, no enum property lookups (str() of a StrEnum
    # member is its value), and the detection loop only for outcomes that have boxes.
    event_id, ts, line_id, station_id, shadow = o.event_id, o.ts, o.line_id, o.station_id, o.shadow
    verdict, model, latency, dets = str(o.verdict), o.model, o.latency, o.detections
    batch.inspections.append(
        {
            "event_id": event_id,
            "ts": ts,
            "captured_at": o.captured_at,
            "line_id": line_id,
            "station_id": station_id,
            "agent_id": o.agent_id,
            "frame_id": o.frame_id,
            "item_id": o.item_id,
            "product": o.product,
            "verdict": verdict,
            "model_name": model.name,
            "model_version": model.version,
            "model_sha256": model.sha256,
            "thresholds": dict(o.thresholds),
            "decision_ms": latency.capture_to_decision_ms,
            "inference_ms": latency.inference_ms,
            "reject_ms": latency.capture_to_reject_ms,
            "frame_sha256": o.frame_sha256,
            "frame_width": o.frame_width,
            "frame_height": o.frame_height,
            "frame_sent": o.frame_sent,
            "sample_reason": o.sample_reason,
            "shadow": shadow,
            "n_detections": len(dets),
            "ingested_at": now,
        }
    )
    if not dets:
        return
    for idx, d in enumerate(dets):
        box = d.box
        batch.detections.append(
            {
                "outcome_event_id": event_id,
                "idx": idx,
                "ts": ts,
                "line_id": line_id,
                "station_id": station_id,
                "verdict": verdict,
                "shadow": shadow,
                "class_id": d.class_id,
                "class_name": d.class_name,
                "confidence": d.confidence,
                "x1": box.x1,
                "y1": box.y1,
                "x2": box.x2,
                "y2": box.y2,
            }
        )


def _frame(batch: RowBatch, f: FramePayload, now: datetime) -> None:
    m = f.meta
    row = {
        "sha256": m.jpeg_sha256,
        "path": "",
        "size_bytes": len(f.jpeg),
        "width": m.width,
        "height": m.height,
        "line_id": m.line_id,
        "station_id": m.station_id,
        "outcome_event_id": m.outcome_event_id,
        "sample_reason": m.sample_reason,
        "captured_at": m.captured_at,
        "received_at": now,
    }
    batch.frames.append((row, f.jpeg))


def label_row(lab: Label) -> dict[str, Any]:
    return {
        "event_id": lab.event_id,
        "ts": lab.ts,
        "outcome_event_id": lab.outcome_event_id,
        "frame_sha256": lab.frame_sha256,
        "line_id": lab.line_id,
        "station_id": lab.station_id,
        "action": lab.action.value,
        "detections": [d.model_dump(mode="json") for d in lab.detections],
        "reviewer": lab.reviewer,
        "source": lab.source.value,
        "comment": lab.comment,
        "product": lab.product,
        "review_ms": None,  # measured by the API's review routes only
        "priority": None,  # the queue's, filled when the review is stored
        "offered_for": None,
    }


def _heartbeat(batch: RowBatch, h: Heartbeat) -> None:
    version = h.model.version if h.model else None
    batch.heartbeats.append(
        {
            "event_id": h.event_id,
            "agent_id": h.agent_id,
            "ts": h.ts,
            "fps": h.fps,
            "model_version": version,
            "uptime_s": h.uptime_s,
            "late_rejects": h.late_rejects,
            "missed_parts": h.missed_parts,
            "latency_p50_ms": h.latency_p50_ms,
            "latency_p99_ms": h.latency_p99_ms,
            "buffer_records": h.buffer_records,
            "frames_dropped": h.frames_dropped,
            "errors": h.errors,
        }
    )
    current = batch.agents.get(h.agent_id)
    if current is not None and current["last_seen"] >= h.ts:
        return
    batch.agents[h.agent_id] = {
        "agent_id": h.agent_id,
        "line_id": h.line_id,
        "station_id": h.station_id,
        "last_seen": h.ts,
        "model_name": h.model.name if h.model else None,
        "model_version": version,
        "fps": h.fps,
        "latency_p50_ms": h.latency_p50_ms,
        "latency_p99_ms": h.latency_p99_ms,
        "buffer_records": h.buffer_records,
        "camera_connected": h.camera.connected,
        "heartbeat": h.model_dump(mode="json"),
    }


def _agent_event(batch: RowBatch, e: AgentEvent) -> None:
    batch.agent_events.append(
        {
            "event_id": e.event_id,
            "agent_id": e.agent_id,
            "line_id": e.line_id,
            "ts": e.ts,
            "type": e.type.value,
            "deployment_id": e.deployment_id,
            "model_version": e.model.version if e.model else None,
            "detail": e.detail,
        }
    )


def deployment_row(d: Deployment) -> dict[str, Any]:
    return {
        "event_id": d.event_id,
        "deployment_id": d.deployment_id,
        "ts": d.ts,
        "target": d.target,
        "model_name": d.model_name,
        "model_version": d.model_version,
        "strategy": d.strategy.value,
        "created_by": d.created_by,
        "payload": d.model_dump(mode="json"),
    }


def rollout_row(m: RolloutRequest | RolloutEvent) -> dict[str, Any]:
    """A row of the ``rollouts`` table: a request (state ``requested``) or one of the controller's events."""
    row: dict[str, Any] = {"event_id": m.event_id, "kind": m.kind, "ts": m.ts, "product": m.product}
    if isinstance(m, RolloutRequest):
        return {
            **row,
            "request_id": m.request_id,
            "rollout_id": None,
            "action": m.action.value,
            "model_name": None,
            "model_version": m.model_version,
            "previous_version": None,
            "state": RolloutState.REQUESTED.value,
            "stage": None,
            "stages": None,
            "agents": [],
            "reason": m.reason,
            "evidence": {},
            "actor": m.requested_by,
            "payload": m.model_dump(mode="json"),
        }
    return {
        **row,
        "request_id": m.request_id,
        "rollout_id": m.rollout_id,
        "action": None,
        "model_name": m.model_name,
        "model_version": m.model_version,
        "previous_version": m.previous_version,
        "state": m.state.value,
        "stage": m.stage,
        "stages": m.stages,
        "agents": list(m.agents),
        "reason": m.reason,
        "evidence": dict(m.evidence),
        "actor": m.actor,
        "payload": m.model_dump(mode="json"),
    }


def to_rows(events: Iterable[Any], now: datetime | None = None) -> RowBatch:
    """Sort events by kind into rows; unknown kinds are counted in ``ignored``."""
    now = now or datetime.now(UTC)
    batch = RowBatch()
    for ev in events:
        if isinstance(ev, Outcome):
            _outcome(batch, ev, now)
        elif isinstance(ev, FramePayload):
            _frame(batch, ev, now)
        elif isinstance(ev, Heartbeat):
            _heartbeat(batch, ev)
        elif isinstance(ev, AgentEvent):
            _agent_event(batch, ev)
        elif isinstance(ev, Label):
            batch.reviews.append(label_row(ev))
        elif isinstance(ev, Deployment):
            batch.deployments.append(deployment_row(ev))
        elif isinstance(ev, RolloutRequest | RolloutEvent):
            batch.rollouts.append(rollout_row(ev))
        else:
            batch.ignored += 1
    return batch
