"""Sink speed: one sink process end to end from Kafka, as a ratio to the raw kafka-python consumer measured
in the same run.

python bench/bench_sink.py --bootstrap 127.0.0.1:9092 [--events 60000] [--rounds 3] [--cpu 0]
                           [--postgres-url postgresql+psycopg://user@host:port/admin_db]

The outcomes (``bench/api_data.make_outcomes``: 5 % FAIL with one box) are produced once to a fresh topic
prefix (6 partitions). Each round then reads all of them four times, each with a fresh consumer group and
timed from its first non-empty poll (the group join excluded):

- raw: kafka-python's ``KafkaConsumer`` with the sink's fetch settings, the values left as bytes (the
  baseline: what any Python consumer of this broker pays);
- fetch + decode: ``TypedConsumer`` (every value validated into its payload model, as the sink polls);
- sink, SQLite: ``Sink.run_once`` in a loop (poll, map, write, commit) into a fresh database;
- sink, PostgreSQL: the same into a fresh database of ``--postgres-url``'s server (skipped without it).

``--cpu N`` pins this process (kafka-python's network thread included) to core N, so "one core" means one
core; the broker should run elsewhere. Rates are events per second of wall time, and per CPU-second of this
process; the ratios to the raw consumer of the same round are what compares across runs on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from api_data import make_outcomes
from kafka import KafkaConsumer

from api.db.engine import Database
from api.db.migrate import upgrade
from api.frames.store import LocalFrameStore
from api.sink.runner import Sink
from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.kafka.admin import ensure_topics, wait_for_cluster
from factoryloop.schemas.codec import encode
from factoryloop.settings import KafkaSettings
from factoryloop.topics import FRAME_MAX_BYTES, TopicRole

Rate = tuple[float, float]  # events per wall second, events per CPU-second


def _timed(step: Callable[[], int], total: int) -> Rate:
    """Call ``step`` (returns events handled) until ``total``; rate from the first events on."""
    done = 0
    while not done:  # the group join is not timed
        done = step()
    start, wall, cpu = done, time.perf_counter(), time.process_time()
    while done < total:
        done += step()
    return (done - start) / (time.perf_counter() - wall), (done - start) / (time.process_time() - cpu)


def raw_consumer(kafka: KafkaSettings, total: int, batch: int) -> Rate:
    consumer = KafkaConsumer(
        **kafka.client_config(),
        group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
        fetch_max_bytes=4 * FRAME_MAX_BYTES,
        max_partition_fetch_bytes=FRAME_MAX_BYTES,
    )
    consumer.subscribe([kafka.topics.outcomes])
    try:
        return _timed(
            lambda: sum(map(len, consumer.poll(timeout_ms=1000, max_records=batch).values())), total
        )
    finally:
        consumer.close(autocommit=False)


def typed_consumer(kafka: KafkaSettings, total: int, batch: int) -> Rate:
    group = f"bench-decode-{uuid.uuid4().hex[:6]}"
    with TypedConsumer(kafka, [TopicRole.OUTCOMES], group, max_poll_records=batch) as consumer:
        return _timed(lambda: len(consumer.poll(timeout_ms=1000, max_records=batch)), total)


def sink_rate(kafka: KafkaSettings, url: str, frames: Path, total: int, batch: int) -> Rate:
    db = Database(url)
    upgrade(db.engine)
    sink = Sink(
        kafka,
        db.engine,
        LocalFrameStore(frames),
        group_id=f"bench-sink-{uuid.uuid4().hex[:6]}",
        batch_size=batch,
    )
    try:
        rate = _timed(sink.run_once, total)
        stored = Database(url)
        with stored.engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM inspections")).scalar_one()
        stored.dispose()
        if n != total:
            raise RuntimeError(f"the sink stored {n} inspections of {total}")
        return rate
    finally:
        sink.consumer.close()
        db.dispose()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"bench_sink_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def produce(kafka: KafkaSettings, n: int) -> None:
    wait_for_cluster(kafka, timeout_s=10)
    ensure_topics(kafka)
    with EventProducer(kafka, linger_ms=20) as producer:
        for ev in make_outcomes(n, datetime(2026, 1, 1, tzinfo=UTC)):
            producer.send_raw(kafka.topics.outcomes, encode(ev), key=ev.station_key)
        producer.flush()


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    ap.add_argument("--postgres-url", default=None, help="an admin URL: a fresh database per round")
    a = ap.parse_args()
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})
    kafka = KafkaSettings(bootstrap_servers=a.bootstrap, topic_prefix=f"sink{uuid.uuid4().hex[:6]}.")
    produce(kafka, a.events)
    loads = [os.getloadavg()[0]]
    ratios: dict[str, list[float]] = {}
    rows: list[tuple[int, str, Rate]] = []
    with tempfile.TemporaryDirectory(prefix="fl-bench-sink-") as d:
        for r in range(a.rounds):
            raw = raw_consumer(kafka, a.events, a.batch)
            measures = {"fetch + decode (TypedConsumer)": typed_consumer(kafka, a.events, a.batch)}
            url = f"sqlite:///{Path(d) / f'sink-{r}.db'}"
            measures["sink, SQLite"] = sink_rate(kafka, url, Path(d) / "frames", a.events, a.batch)
            if a.postgres_url:
                with postgres_database(a.postgres_url) as pg:
                    measures["sink, PostgreSQL"] = sink_rate(kafka, pg, Path(d) / "frames", a.events, a.batch)
            rows.append((r, "raw kafka-python consumer", raw))
            for name, rate in measures.items():
                rows.append((r, name, rate))
                ratios.setdefault(f"{name} / raw, wall", []).append(rate[0] / raw[0])
                ratios.setdefault(f"{name} / raw, CPU", []).append(rate[1] / raw[1])
            loads.append(os.getloadavg()[0])
            print(
                f"round {r + 1}: raw {raw[0]:,.0f}/s, "
                + ", ".join(f"{n} {v[0]:,.0f}/s ({v[0] / raw[0]:.2f})" for n, v in measures.items()),
                flush=True,
            )
    pinned = f"pinned to core {a.cpu}" if a.cpu is not None else "not pinned"
    print(
        f"\n{a.events:,} outcomes, batches of {a.batch}, {pinned}, "
        f"load average {min(loads):.1f}-{max(loads):.1f}"
    )
    print("\n| round | measure | events/s | events per CPU-second |\n|---|---|---|---|")
    for r, name, (wall, cpu) in rows:
        print(f"| {r + 1} | {name} | {wall:,.0f} | {cpu:,.0f} |")
    print("\n| ratio to the raw consumer of the same round | over the rounds |\n|---|---|")
    for name, values in ratios.items():
        print(f"| {name} | {_spread(values)} |")


if __name__ == "__main__":
    main()
