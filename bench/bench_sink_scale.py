"""Sink scaling: N sink processes in one consumer group, from Kafka into one SQLite or PostgreSQL database.

python bench/bench_sink_scale.py --bootstrap 127.0.0.1:9092 [--events 100000] [--processes 1 2]
                                 [--cpus 0 1] [--postgres-url postgresql+psycopg://user@host:port/admin_db]

The outcomes are produced once (6 partitions); for each N, N processes run the sink (`Sink`, as
`factoryloop api sink` does) with a fresh group id against a fresh database (a SQLite file, or a new database
on ``--postgres-url``'s server), and the rate is timed from the first stored row to the last (the group join
excluded) by counting rows from this process. ``--cpus`` pins sink process i to core ``cpus[i % len]``. The
baselines, in the same run: N = the first of ``--processes``, and one raw kafka-python consumer (values left
as bytes) pinned like the first sink process. More processes than cores only compete (the broker shares the
machine too).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from bench_sink import postgres_database, produce, raw_consumer

from api.db.engine import Database
from api.db.migrate import upgrade
from api.frames.store import LocalFrameStore
from api.sink.runner import Sink
from factoryloop.settings import KafkaSettings


def _run_sink(kafka: KafkaSettings, db_url: str, frames: str, group: str, stop: Any, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    db = Database(db_url)
    sink = Sink(kafka, db.engine, LocalFrameStore(Path(frames)), group_id=group, batch_size=2000)
    sink.start()
    stop.wait()
    sink.stop()
    db.dispose()


@contextmanager
def _database(tmp: Path, name: str, postgres_url: str | None) -> Iterator[str]:
    if postgres_url is None:
        yield f"sqlite:///{tmp / f'{name}.db'}"
        return
    with postgres_database(postgres_url) as url:
        yield url


def measure(
    kafka: KafkaSettings, url: str, frames: Path, n_events: int, processes: int, cpus: list[int] | None
) -> float:
    db = Database(url)
    upgrade(db.engine)
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    group = f"bench-scale-{uuid.uuid4().hex[:6]}"
    procs = [
        ctx.Process(
            target=_run_sink,
            args=(kafka, url, str(frames), group, stop, cpus[i % len(cpus)] if cpus else None),
        )
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    count = sa.text("SELECT count(*) FROM inspections")
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        while True:
            with db.engine.connect() as conn:
                n = int(conn.execute(count).scalar_one())
            if n >= n_events:
                break
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
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cpus", type=int, nargs="+", default=None, help="pin sink process i to cpus[i % len]")
    ap.add_argument("--postgres-url", default=None, help="an admin URL: a fresh database per N")
    a = ap.parse_args()
    kafka = KafkaSettings(bootstrap_servers=a.bootstrap, topic_prefix=f"scale{uuid.uuid4().hex[:6]}.")
    produce(kafka, a.events)
    if a.cpus:
        os.sched_setaffinity(0, {a.cpus[0]})
    raw, _ = raw_consumer(kafka, a.events, 2000)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    db = "PostgreSQL" if a.postgres_url else "SQLite"
    print(f"raw kafka-python consumer: {raw:,.0f} events/s ({a.events:,} outcomes, {db}, cpus {a.cpus})")
    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="fl-bench-scale-") as d:
        for n in a.processes:
            with _database(Path(d), f"scale-{n}", a.postgres_url) as url:
                rates[n] = measure(kafka, url, Path(d) / "frames", a.events, n, a.cpus)
            ratio = rates[n] / rates[a.processes[0]]
            print(
                f"{n} sink process(es): {rates[n]:,.0f} events/s (ratio to {a.processes[0]}: {ratio:.2f}, "
                f"to the raw consumer: {rates[n] / raw:.2f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
