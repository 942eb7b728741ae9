"""Round trips and rejections of every wire contract (no broker needed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from factoryloop.errors import SchemaError
from factoryloop.schemas import Box, Strategy, decode, decode_frame, encode, encode_frame
from factoryloop.topics import TopicRole
from tests.support.events import (
    agent_event,
    dead_letter,
    deployment,
    frame,
    heartbeat,
    jpeg_bytes,
    label,
    outcome,
)


@pytest.mark.parametrize(
    ("role", "factory"),
    [
        (TopicRole.OUTCOMES, outcome),
        (TopicRole.LABELS, label),
        (TopicRole.DEPLOYMENTS, deployment),
        (TopicRole.HEARTBEATS, heartbeat),
        (TopicRole.HEARTBEATS, agent_event),
        (TopicRole.DEAD_LETTERS, dead_letter),
    ],
)
def test_json_round_trip(role: TopicRole, factory: Callable[[], BaseModel]) -> None:
    event = factory()
    assert decode(role, encode(event)) == event


def test_heartbeat_topic_tells_kinds_apart() -> None:
    assert type(decode(TopicRole.HEARTBEATS, encode(agent_event()))).__name__ == "AgentEvent"
    assert type(decode(TopicRole.HEARTBEATS, encode(heartbeat()))).__name__ == "Heartbeat"


def test_frame_round_trip_200kb() -> None:
    jpeg = jpeg_bytes(200_000)
    meta = frame(jpeg)
    payload = decode_frame(encode_frame(meta, jpeg))
    assert payload.meta == meta
    assert payload.jpeg == jpeg


@pytest.mark.parametrize(
    ("role", "value", "reason"),
    [
        (TopicRole.OUTCOMES, b"\xff\xfe not json", "not valid UTF-8 JSON"),
        (TopicRole.OUTCOMES, b"[1, 2]", "not a JSON object"),
        (TopicRole.OUTCOMES, None, "tombstone"),
        (TopicRole.LABELS, b'{"schema_version": 99}', "unknown schema_version 99"),
        (TopicRole.LABELS, b'{"kind": "label"}', "unknown schema_version None"),
        (TopicRole.FRAMES, b"FLF", "too short"),
        (TopicRole.FRAMES, b"JPEG\x00\x00\x00\x01{", "bad magic"),
        (TopicRole.FRAMES, b"FLF1\x00\x10\x00\x00{}", "header length"),
        (TopicRole.FRAMES, b"FLF1\x00\x00\x00\x02[]", "frames: frame header is not a JSON object"),
        (TopicRole.FRAMES, b"FLF1\x00\x00\x00\x02{]", "frames: frame header is not valid UTF-8 JSON"),
    ],
)
def test_malformed_payloads_are_refused_with_reason(
    role: TopicRole, value: bytes | None, reason: str
) -> None:
    with pytest.raises(SchemaError, match=reason):
        decode(role, value)


def test_invalid_field_names_its_path() -> None:
    obj = json.loads(encode(outcome()))
    obj["detections"][0]["confidence"] = 3.0
    with pytest.raises(SchemaError, match=r"detections\.0\.confidence"):
        decode(TopicRole.OUTCOMES, json.dumps(obj).encode())


def test_tampered_frame_bytes_detected() -> None:
    jpeg = jpeg_bytes(5000)
    value = bytearray(encode_frame(frame(jpeg), jpeg))
    value[-1] ^= 0xFF
    with pytest.raises(SchemaError, match="do not match jpeg_sha256"):
        decode_frame(bytes(value))


def test_frame_meta_must_match_bytes() -> None:
    with pytest.raises(ValueError, match="does not match"):
        encode_frame(frame(jpeg_bytes(10)), jpeg_bytes(11))


def test_timestamps_normalised_to_utc_and_naive_refused() -> None:
    cet = timezone(timedelta(hours=1))
    event = outcome(captured_at=datetime(2026, 1, 1, 13, 0, tzinfo=cet))
    assert event.captured_at.utcoffset() == timedelta(0)
    assert event.captured_at.hour == 12
    with pytest.raises(ValidationError, match="timezone"):
        outcome(captured_at=datetime(2026, 1, 1, 13, 0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": Strategy.CANARY}, "canary_agents"),
        ({"strategy": Strategy.SHADOW}, "shadow_sample_rate"),
        ({"sha256": "nothex"}, "sha256"),
    ],
)
def test_deployment_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        deployment(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "agent", "line", "applies"),
    [
        ({"target": "fleet"}, "a1", "line-9", True),
        ({"target": "line-1"}, "a1", "line-1", True),
        ({"target": "line-1"}, "a1", "line-2", False),
        ({"strategy": Strategy.CANARY, "canary_agents": ("a1",)}, "a1", "line-1", True),
        ({"strategy": Strategy.CANARY, "canary_agents": ("a1",)}, "a2", "line-1", False),
    ],
)
def test_deployment_targets(kwargs: dict[str, object], agent: str, line: str, applies: bool) -> None:
    assert deployment(**kwargs).applies_to(agent, line) is applies


def test_reject_review_carries_no_detections() -> None:
    with pytest.raises(ValidationError, match="reject"):
        label(action="reject")


def test_box_must_have_positive_extent() -> None:
    with pytest.raises(ValidationError, match="x2 > x1"):
        Box(x1=5, y1=5, x2=5, y2=9)


def test_unknown_fields_are_refused() -> None:
    obj = json.loads(encode(heartbeat()))
    obj["surprise"] = 1
    with pytest.raises(SchemaError, match="surprise"):
        decode(TopicRole.HEARTBEATS, json.dumps(obj).encode())


def test_station_key_orders_per_station() -> None:
    assert outcome().station_key == "line-1/st-1"
