"""Data for bench/bench_api.py: wire outcomes, and bulk rows written straight into SQLite or PostgreSQL."""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from factoryloop.schemas import Box, Detection, Latency, ModelRef, Outcome

LINES = [f"line-{i}" for i in range(4)]
CLASSES = ["scratch", "dent", "crack", "inclusion", "patch", "pit"]


def make_outcomes(n: int, t0: datetime, step_s: float = 0.01) -> list[Outcome]:
    rng = random.Random(0)
    model = ModelRef(name="widget", version="3")
    out = []
    for i in range(n):
        fail = rng.random() < 0.05
        dets = (
            (
                Detection(
                    class_id=0,
                    class_name=rng.choice(CLASSES),
                    confidence=0.9,
                    box=Box(x1=1, y1=2, x2=30, y2=40),
                ),
            )
            if fail
            else ()
        )
        out.append(
            Outcome(
                line_id=LINES[i % 4],
                station_id="st-1",
                agent_id=f"agent-{i % 4}",
                frame_id=str(i),
                captured_at=t0 + timedelta(seconds=i * step_s),
                ts=t0 + timedelta(seconds=i * step_s),
                verdict="FAIL" if fail else "PASS",
                detections=dets,
                model=model,
                thresholds={"scratch": 0.5},
                latency=Latency(capture_to_decision_ms=10, inference_ms=8),
                frame_sha256=f"{i:064x}",
                frame_width=640,
                frame_height=480,
                frame_sent=fail,
            )
        )
    return out


def plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, dict):
        return json.dumps(v)
    return v


INSPECTION_COLS = (
    "event_id, ts, captured_at, line_id, station_id, agent_id, frame_id, verdict, model_name, model_version,"
    " thresholds, decision_ms, inference_ms, frame_sha256, frame_width, frame_height, frame_sent, shadow,"
    " n_detections, ingested_at"
)
DETECTION_COLS = (
    "outcome_event_id, idx, ts, line_id, station_id, verdict, shadow, class_id, class_name, confidence,"
    " x1, y1, x2, y2"
)


def row_chunks(n: int, t0: datetime, chunk: int = 100_000) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """``n`` inspections over 30 days (5 % FAIL with one detection), in chunks of (inspections, detections)
    rows in the column orders above (UTC times as naive ISO text, as SQLAlchemy stores them)."""
    rng = random.Random(1)
    span = 30 * 86400
    for start in range(0, n, chunk):
        irows, drows = [], []
        for i in range(start, min(n, start + chunk)):
            ts = (t0 + timedelta(seconds=i * span / n)).replace(tzinfo=None).isoformat(" ", "microseconds")
            fail = rng.random() < 0.05
            eid = f"{i:032x}"
            line = LINES[i % 4]
            irows.append(
                (
                    eid,
                    ts,
                    ts,
                    line,
                    "st-1",
                    "a",
                    str(i),
                    "FAIL" if fail else "PASS",
                    "widget",
                    str(1 + i * 5 // n),
                    "{}",
                    10.0,
                    8.0,
                    f"{i:064x}",
                    640,
                    480,
                    fail,
                    False,
                    int(fail),
                    ts,
                )
            )
            if fail:
                drows.append(
                    (eid, 0, ts, line, "st-1", "FAIL", False, 0, rng.choice(CLASSES), 0.9, 1, 2, 30, 40)
                )
        yield irows, drows


def bulk_rows(db_path: Path, n: int, t0: datetime) -> None:
    """:func:`row_chunks` into a SQLite database (at migration 0001) with raw executemany."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    ins = f"INSERT INTO inspections ({INSPECTION_COLS}) VALUES ({','.join('?' * 20)})"
    det = f"INSERT INTO detections ({DETECTION_COLS}) VALUES ({','.join('?' * 14)})"
    for irows, drows in row_chunks(n, t0):
        with conn:
            conn.executemany(ins, irows)
            conn.executemany(det, drows)
    conn.execute("ANALYZE")
    conn.close()


def bulk_rows_postgres(dsn: str, n: int, t0: datetime) -> None:
    """:func:`row_chunks` into a PostgreSQL database (at migration 0001) with COPY."""
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        for irows, drows in row_chunks(n, t0):
            with cur.copy(f"COPY inspections ({INSPECTION_COLS}) FROM STDIN") as copy:
                for row in irows:
                    copy.write_row(row)
            with cur.copy(f"COPY detections ({DETECTION_COLS}) FROM STDIN") as copy:
                for row in drows:
                    copy.write_row(row)
            conn.commit()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1000)
    return statistics.median(lat), percentile(lat, 99)
