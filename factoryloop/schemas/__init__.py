"""Versioned wire contracts: one pydantic model per Kafka payload, and the codec that checks them."""

from factoryloop.schemas.base import Box, Detection, Event, ModelRef, StationEvent, utc_now
from factoryloop.schemas.codec import FramePayload, decode, decode_frame, encode, encode_frame
from factoryloop.schemas.dead_letters import DeadLetter
from factoryloop.schemas.deployments import FLEET_KEY, Deployment, Strategy
from factoryloop.schemas.frames import FrameMeta
from factoryloop.schemas.heartbeats import AgentEvent, AgentEventType, CameraHealth, Heartbeat
from factoryloop.schemas.labels import Label, LabelSource, ReviewAction
from factoryloop.schemas.outcomes import Latency, Outcome, Verdict
from factoryloop.schemas.rollouts import (
    RolloutAction,
    RolloutEvent,
    RolloutRequest,
    RolloutState,
)

__all__ = [
    "FLEET_KEY",
    "AgentEvent",
    "AgentEventType",
    "Box",
    "CameraHealth",
    "DeadLetter",
    "Deployment",
    "Detection",
    "Event",
    "FrameMeta",
    "FramePayload",
    "Heartbeat",
    "Label",
    "LabelSource",
    "Latency",
    "ModelRef",
    "Outcome",
    "ReviewAction",
    "RolloutAction",
    "RolloutEvent",
    "RolloutRequest",
    "RolloutState",
    "StationEvent",
    "Strategy",
    "Verdict",
    "decode",
    "decode_frame",
    "encode",
    "encode_frame",
    "utc_now",
]
