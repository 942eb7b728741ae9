"""Encode and decode Kafka values for every topic role, with schema-version checks.

JSON payloads are the pydantic models' JSON. Frames use a binary envelope (see :mod:`.frames`).
Decoding raises :class:`~factoryloop.errors.SchemaError` with a reason fit for a dead letter.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from factoryloop.errors import SchemaError
from factoryloop.schemas.dead_letters import DeadLetter
from factoryloop.schemas.deployments import Deployment
from factoryloop.schemas.frames import FrameMeta
from factoryloop.schemas.heartbeats import AgentEvent, Heartbeat
from factoryloop.schemas.labels import Label
from factoryloop.schemas.outcomes import Outcome
from factoryloop.schemas.rollouts import RolloutMessage
from factoryloop.topics import TopicRole

FRAME_MAGIC = b"FLF1"
_HEADER = struct.Struct(">4sI")
MAX_FRAME_HEADER = 64 * 1024

# Which payload type(s) each topic carries, and the schema versions this code understands.
_ADAPTERS: dict[TopicRole, TypeAdapter[Any]] = {
    TopicRole.OUTCOMES: TypeAdapter(Outcome),
    TopicRole.LABELS: TypeAdapter(Label),
    TopicRole.DEPLOYMENTS: TypeAdapter(Deployment),
    TopicRole.HEARTBEATS: TypeAdapter(Heartbeat | AgentEvent),
    TopicRole.DEAD_LETTERS: TypeAdapter(DeadLetter),
    TopicRole.FRAMES: TypeAdapter(FrameMeta),
    TopicRole.ROLLOUTS: TypeAdapter(RolloutMessage),
}
SUPPORTED_VERSIONS: dict[TopicRole, frozenset[int]] = {role: frozenset({1}) for role in TopicRole}


@dataclass(frozen=True, slots=True)
class FramePayload:
    """A decoded frame record: metadata plus the JPEG bytes (hash verified)."""

    meta: FrameMeta
    jpeg: bytes


def encode(event: BaseModel) -> bytes:
    """Serialise a JSON payload model (anything but a frame)."""
    if isinstance(event, FrameMeta):
        raise TypeError("frames carry JPEG bytes: use encode_frame(meta, jpeg)")
    return event.model_dump_json().encode("utf-8")


def encode_frame(meta: FrameMeta, jpeg: bytes) -> bytes:
    if hashlib.sha256(jpeg).hexdigest() != meta.jpeg_sha256:
        raise ValueError("FrameMeta.jpeg_sha256 does not match the JPEG bytes")
    header = meta.model_dump_json().encode("utf-8")
    return _HEADER.pack(FRAME_MAGIC, len(header)) + header + jpeg


def _check_version(role: TopicRole, obj: object, what: str = "payload") -> None:
    if not isinstance(obj, dict):
        raise SchemaError(f"{role.value}: {what} is not a JSON object")
    version = obj.get("schema_version")
    if version not in SUPPORTED_VERSIONS[role]:
        raise SchemaError(
            f"{role.value}: unknown schema_version {version!r} (this consumer understands "
            f"{sorted(SUPPORTED_VERSIONS[role])}); upgrade the consumer or fix the producer"
        )


def _validate(role: TopicRole, obj: object, what: str = "payload") -> Any:
    try:
        return _ADAPTERS[role].validate_python(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise SchemaError(f"{role.value}: invalid {what}: {problems}") from exc


def decode(role: TopicRole, value: bytes | None) -> Any:
    """Decode a record value of a topic role into its pydantic model (or :class:`FramePayload`)."""
    if value is None:
        raise SchemaError(f"{role.value}: empty record (tombstone) where a payload was expected")
    if role is TopicRole.FRAMES:
        return decode_frame(value)
    return _decode_json(role, value)


def _decode_json(role: TopicRole, value: bytes, what: str = "payload") -> Any:
    # Fast path: pydantic parses and validates the bytes in one pass (8.6 us for an outcome here, against
    # 22 us for json.loads + validate_python). Anything it refuses, or a schema version this consumer does not
    # understand, goes through the slow path, which says precisely what is wrong.
    try:
        # The core validator itself: TypeAdapter.validate_json's Python wrapper adds ~4 % to each call.
        event = _ADAPTERS[role].validator.validate_json(value)
    except ValidationError:
        event = None
    if event is not None and getattr(event, "schema_version", None) in SUPPORTED_VERSIONS[role]:
        return event
    try:
        obj = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{role.value}: {what} is not valid UTF-8 JSON: {exc}") from exc
    _check_version(role, obj, what)
    return _validate(role, obj, what)


def decode_frame(value: bytes) -> FramePayload:
    if len(value) < _HEADER.size:
        raise SchemaError(f"frames: record of {len(value)} bytes is too short for a frame envelope")
    magic, header_len = _HEADER.unpack_from(value)
    if magic != FRAME_MAGIC:
        raise SchemaError(f"frames: bad magic {magic!r} (expected {FRAME_MAGIC!r}); not a factoryloop frame")
    if header_len > MAX_FRAME_HEADER or _HEADER.size + header_len > len(value):
        raise SchemaError(f"frames: header length {header_len} exceeds the record ({len(value)} bytes)")
    start = _HEADER.size
    meta: FrameMeta = _decode_json(TopicRole.FRAMES, value[start : start + header_len], "frame header")
    jpeg = value[start + header_len :]
    if hashlib.sha256(jpeg).hexdigest() != meta.jpeg_sha256:
        raise SchemaError("frames: JPEG bytes do not match jpeg_sha256 (corrupted in transit or tampered)")
    return FramePayload(meta=meta, jpeg=jpeg)
