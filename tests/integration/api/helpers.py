"""Helpers of the API integration tests: waiting for the sink, reading a topic back."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import cv2
import numpy as np
from sqlalchemy import func, select

from api.db.engine import Database
from api.db.models import (
    ClassSightingRow,
    DetectionRow,
    HourlyDetectionRow,
    HourlyInspectionRow,
    InspectionRow,
)
from api.db.types import UtcDateTime
from factoryloop.kafka import TypedConsumer
from factoryloop.kafka.consumer import Received
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


def read_records(
    kafka: KafkaSettings, role: TopicRole, count: int, timeout_s: float = 60.0
) -> list[Received]:
    """Like :func:`read_topic`, with each record's key, partition and offset."""
    out: list[Received] = []
    with TypedConsumer(kafka, [role], None, auto_offset_reset="earliest") as consumer:
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            out.extend(consumer.poll(timeout_ms=500))
    assert len(out) >= count, f"expected {count} records on {role.value}, got {len(out)}"
    return out


def real_jpeg(seed: int = 0) -> bytes:
    """A decodable 160x120 JPEG (the overlay route needs one)."""
    img = np.full((120, 160, 3), 90 + seed % 100, dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf)


def hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def direct(db: Database) -> tuple[Counter[tuple[Any, ...]], dict[tuple[Any, ...], list[Any]]]:
    """Aggregate the stored event tables in Python (the reference the summaries must equal)."""
    i, d = InspectionRow, DetectionRow
    with db.session() as s:
        rows = s.execute(select(i.ts, i.line_id, i.station_id, i.product, i.verdict).where(~i.shadow)).all()
        dets = s.execute(
            select(d.ts, d.line_id, d.station_id, i.product, d.verdict, d.class_name)
            .join(i, i.event_id == d.outcome_event_id)
            .where(~d.shadow)
        ).all()
    counts = Counter((hour(r[0]), r[1], r[2], r[3] or "", r[4]) for r in rows)
    by_class: dict[tuple[Any, ...], list[Any]] = {}
    for ts, *rest in dets:
        k = (hour(ts), *rest[:2], rest[2] or "", *rest[3:])
        acc = by_class.setdefault(k, [0, ts, ts])
        acc[0] += 1
        acc[1], acc[2] = min(acc[1], ts), max(acc[2], ts)
    return counts, by_class


def summaries(db: Database) -> tuple[Counter[tuple[Any, ...]], dict[tuple[Any, ...], list[Any]]]:
    h, hd = HourlyInspectionRow, HourlyDetectionRow
    with db.session() as s:
        rows = s.execute(select(h.hour, h.line_id, h.station_id, h.product, h.verdict, h.n)).all()
        dets = s.execute(
            select(
                hd.hour,
                hd.line_id,
                hd.station_id,
                hd.product,
                hd.verdict,
                hd.class_name,
                hd.n,
                hd.first_ts,
                hd.last_ts,
            )
        ).all()
    return Counter({tuple(r[:5]): r[5] for r in rows}), {tuple(r[:6]): list(r[6:]) for r in dets}


def direct_sightings(db: Database) -> dict[tuple[str, str], list[Any]]:
    """First/last time and count per line and class of non-shadow FAIL/UNCERTAIN detections, from the
    detections table."""
    d = DetectionRow
    with db.session() as s:
        rows = s.execute(
            select(d.line_id, d.class_name, func.count(), func.min(d.ts), func.max(d.ts))
            .where(~d.shadow, d.verdict != "PASS")
            .group_by(d.line_id, d.class_name)
        ).all()
    return {
        (r[0], r[1]): [
            r[2],
            UtcDateTime().process_result_value(r[3], None),
            UtcDateTime().process_result_value(r[4], None),
        ]
        for r in rows
    }


def sightings(db: Database) -> dict[tuple[str, str], list[Any]]:
    c = ClassSightingRow
    with db.session() as s:
        rows = s.execute(select(c.line_id, c.class_name, c.n, c.first_ts, c.last_ts)).all()
    return {(r[0], r[1]): list(r[2:]) for r in rows}
