"""Helpers of the API integration tests: waiting for the sink, reading a topic back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import cv2
import numpy as np

from factoryloop.kafka import TypedConsumer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout_s: float = 60.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def read_topic(kafka: KafkaSettings, role: TopicRole, count: int, timeout_s: float = 60.0) -> list[Any]:
    """The first ``count`` decoded events of a topic (from the beginning, no group)."""
    out: list[Any] = []
    with TypedConsumer(kafka, [role], None, auto_offset_reset="earliest") as consumer:
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            out.extend(r.event for r in consumer.poll(timeout_ms=500))
    assert len(out) >= count, f"expected {count} events on {role.value}, got {len(out)}"
    return out


def real_jpeg(seed: int = 0) -> bytes:
    """A decodable 160x120 JPEG (the overlay route needs one)."""
    img = np.full((120, 160, 3), 90 + seed % 100, dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf)
