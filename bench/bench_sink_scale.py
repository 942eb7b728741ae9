"""Sink scaling: N sink processes in one consumer group, from Kafka into one SQLite database.

python bench/bench_sink_scale.py --bootstrap 127.0.0.1:9092 [--events 100000] [--processes 1 2]

The outcomes are produced once (6 partitions); for each N, N processes run the sink (`Sink`, as
`factoryloop api sink` does) with a fresh group id against a fresh database, and the rate is timed from the
first stored row to the last (the group join excluded) by counting rows from this process. The baseline is
N = 1 of the same run. More processes than cores only compete (the broker shares the machine too).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_data import make_outcomes

from api.db.engine import Database
from api.db.migrate import upgrade
from api.frames.store import LocalFrameStore
from api.sink.runner import Sink
from factoryloop.kafka import EventProducer
from factoryloop.kafka.admin import ensure_topics, wait_for_cluster
from factoryloop.schemas.codec import encode
from factoryloop.settings import KafkaSettings


def _run_sink(kafka: KafkaSettings, db_url: str, frames: str, group: str, stop: Any) -> None:
    db = Database(db_url)
    sink = Sink(kafka, db.engine, LocalFrameStore(Path(frames)), group_id=group, batch_size=2000)
    sink.start()
    stop.wait()
    sink.stop()
    db.dispose()


def _count(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        return int(conn.execute("SELECT count(*) FROM inspections").fetchone()[0])


def measure(kafka: KafkaSettings, tmp: Path, n_events: int, processes: int) -> float:
    path = tmp / f"scale-{processes}.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    stop = mp.get_context("spawn").Event()
    ctx = mp.get_context("spawn")
    group = f"bench-scale-{uuid.uuid4().hex[:6]}"
    procs = [
        ctx.Process(target=_run_sink, args=(kafka, f"sqlite:///{path}", str(tmp / "frames"), group, stop))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        while (n := _count(path)) < n_events:
            if first is None and n:
                first = (time.perf_counter(), n)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{processes} sink(s) stored {n} of {n_events} outcomes in 600 s")
            time.sleep(0.05)
        assert first is not None
        return (n_events - first[1]) / (time.perf_counter() - first[0])
    finally:
        stop.set()
        for p in procs:
            p.join(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    kafka = KafkaSettings(bootstrap_servers=a.bootstrap, topic_prefix=f"scale{uuid.uuid4().hex[:6]}.")
    wait_for_cluster(kafka, timeout_s=10)
    ensure_topics(kafka)
    events = make_outcomes(a.events, datetime(2026, 1, 1, tzinfo=UTC))
    with EventProducer(kafka, linger_ms=20) as producer:
        for ev in events:
            producer.send_raw(kafka.topics.outcomes, encode(ev), key=ev.station_key)
        producer.flush()
    del events
    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="fl-bench-scale-") as d:
        for n in a.processes:
            rates[n] = measure(kafka, Path(d), a.events, n)
            base = rates[a.processes[0]]
            ratio = rates[n] / base
            print(f"{n} sink process(es): {rates[n]:,.0f} events/s (ratio to {a.processes[0]}: {ratio:.2f})")


if __name__ == "__main__":
    main()
