"""Helpers for the edge agent's integration tests: agent configs and reading topics back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from edge_agent.config import AgentConfig, parse_config
from factoryloop.schemas import decode
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole


def agent_config(kafka: KafkaSettings, onnx: Path, tmp: Path, **overrides: Any) -> AgentConfig:
    data: dict[str, Any] = {
        "agent_id": "agent-it",
        "line_id": "line-it",
        "station_id": "st-1",
        "product": "steel_plate",
        "source": {"type": "simulated", "fps": 0, "seed": 3, "max_frames": 40},
        "detector": {"onnx": str(onnx), "threads": 1},
        "sampling": {"pass_rate": 0.0, "rare_class_min_count": 0, "seed": 1},
        "buffer": {"dir": str(tmp / "buffer")},
        "kafka": {
            "bootstrap_servers": kafka.bootstrap_servers,
            "topic_prefix": kafka.topic_prefix,
            "delivery_timeout_s": 6,
        },
        "heartbeat_interval_s": 1,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data)


def read_topic(
    kafka: KafkaSettings,
    role: TopicRole,
    until: int | None = None,
    timeout_s: float = 60.0,
    idle_s: float = 3.0,
) -> list[Any]:
    """Everything on a topic from the start: until ``until`` records, or ``idle_s`` without a new one."""
    consumer = KafkaConsumer(
        kafka.topics[role],
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    out.append(decode(role, r.value))
                    last_new = time.monotonic()
            if until is not None and len(out) >= until:
                break
            if until is None and time.monotonic() - last_new > idle_s and out:
                break
    finally:
        consumer.close()
    return out
