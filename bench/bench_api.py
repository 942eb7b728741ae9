"""API benchmarks: sink ingest rate (DB write path, and end to end from Kafka), defect query and stats
latency at N rows (``bench/api_queries.py``), and outcome-produced -> visible-in-API latency, each with a
baseline measured in the same run.

Run: ``python bench/bench_api.py [--events 100000] [--rows 1000000] [--bootstrap 127.0.0.1:9092]``
(the Kafka parts are skipped when no broker answers); ``--db PATH --queries-only`` reuses a generated
query database; ``--postgres-url URL --queries-only`` runs the queries on PostgreSQL. Results print as a
Markdown table.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from api_data import make_outcomes, percentile, plain
from api_queries import bench_queries
from fastapi.testclient import TestClient

from api.app import create_app
from api.db.engine import Database
from api.db.migrate import upgrade
from api.frames.store import LocalFrameStore
from api.security import Role, create_token
from api.settings import ApiSettings
from api.sink.rows import to_rows
from api.sink.runner import Sink
from api.sink.writer import SinkWriter
from factoryloop.kafka import EventProducer, TypedConsumer, ensure_topics
from factoryloop.kafka.admin import wait_for_cluster
from factoryloop.schemas import Outcome, encode
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole

RESULTS: list[tuple[str, str, str]] = []


def record(name: str, value: str, note: str = "") -> None:
    RESULTS.append((name, value, note))
    print(f"{name}: {value} {note}", flush=True)


def fresh_db(tmp: Path, name: str) -> Database:
    db = Database(f"sqlite:///{tmp / name}")
    upgrade(db.engine)
    return db


def bench_write_path(tmp: Path, events: list[Outcome], batch: int) -> None:
    db = fresh_db(tmp, "write.db")
    writer = SinkWriter(db.engine, LocalFrameStore(tmp / "frames"))
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), batch):
        writer.write(events[i : i + batch])
    rate = len(events) / (time.perf_counter() - t)
    cpu_rate = len(events) / (time.process_time() - cpu)
    record(
        "sink DB write path (SinkWriter, SQLite)",
        f"{rate:,.0f} events/s",
        f"batch {batch}, {len(events):,} outcomes; {cpu_rate:,.0f} events per CPU-second",
    )
    t = time.perf_counter()
    writer.write(events[: min(len(events), 20_000)])
    dup = min(len(events), 20_000) / (time.perf_counter() - t)
    record(
        "  replay of already stored events", f"{dup:,.0f} events/s", "all ignored (ON CONFLICT DO NOTHING)"
    )

    # Baseline 1: the same rows through the stdlib driver's executemany (no SQLAlchemy, no pydantic mapping).
    raw = fresh_db(tmp, "raw.db")
    raw.dispose()
    batch_rows = to_rows(events)
    cols = list(batch_rows.inspections[0])
    rows = [tuple(plain(r[c]) for c in cols) for r in batch_rows.inspections]
    conn = sqlite3.connect(tmp / "raw.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    marks = ", ".join("?" * len(cols))
    sql = f"INSERT INTO inspections ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), batch):
        with conn:
            conn.executemany(sql, rows[i : i + batch])
    raw_rate = len(rows) / (time.perf_counter() - t)
    raw_cpu = len(rows) / (time.process_time() - cpu)
    conn.close()
    record(
        "  baseline: sqlite3 executemany, same inspection rows",
        f"{raw_rate:,.0f} rows/s",
        f"ratio {rate / raw_rate:.2f}; {raw_cpu:,.0f} rows per CPU-second (ratio {cpu_rate / raw_cpu:.2f})",
    )
    t = time.perf_counter()
    for i in range(0, len(events), batch):
        to_rows(events[i : i + batch])
    record(
        "  baseline: event -> row mapping only", f"{len(events) / (time.perf_counter() - t):,.0f} events/s"
    )
    db.dispose()


def bench_kafka_ingest(tmp: Path, kafka: KafkaSettings, events: list[Outcome], batch: int) -> None:
    with EventProducer(kafka, linger_ms=20) as producer:
        for ev in events:
            producer.send_raw(kafka.topics.outcomes, encode(ev), key=ev.station_key)
        producer.flush()
    # Baseline: fetch + decode only (no database).
    with TypedConsumer(
        kafka, [TopicRole.OUTCOMES], f"bench-decode-{uuid.uuid4().hex[:6]}", max_poll_records=batch
    ) as c:
        got = 0
        while not got:  # the group join is not timed
            got = len(c.poll(timeout_ms=1000, max_records=batch))
        start, t = got, time.perf_counter()
        while got < len(events):
            got += len(c.poll(timeout_ms=1000, max_records=batch))
        decode_rate = (got - start) / (time.perf_counter() - t)
    rates = {}
    for mode in ("serial", "pipelined"):
        db = fresh_db(tmp, f"e2e-{mode}.db")
        sink = Sink(
            kafka,
            db.engine,
            LocalFrameStore(tmp / "frames"),
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            batch_size=batch,
            pipeline=mode == "pipelined",
        )
        # Timed from the first stored batch: the consumer group join is not part of the rate.
        first: tuple[float, int] | None = None
        if mode == "serial":  # poll -> write -> commit, one after the other
            while sink.stats.events < len(events):
                sink.run_once()
                first = first or ((time.perf_counter(), sink.stats.events) if sink.stats.events else None)
            sink.consumer.close()
        else:  # Sink.run(pipeline=True): the next batch is fetched while the previous one is written
            sink.start()
            while sink.stats.events < len(events):
                first = first or ((time.perf_counter(), sink.stats.events) if sink.stats.events else None)
                time.sleep(0.002)
        assert first is not None
        rates[mode] = (len(events) - first[1]) / (time.perf_counter() - first[0])
        sink.stop()
        db.dispose()
    record(
        "sink end to end from Kafka (SQLite), pipelined (Sink(pipeline=True).run)",
        f"{rates['pipelined']:,.0f} events/s",
        f"{len(events):,} outcomes, 6 partitions; ratio to fetch-only {rates['pipelined'] / decode_rate:.2f}",
    )
    record(
        "  serial poll -> write -> commit (Sink.run_once)",
        f"{rates['serial']:,.0f} events/s",
        f"ratio to fetch-only {rates['serial'] / decode_rate:.2f}",
    )
    record("  baseline: Kafka fetch + decode only", f"{decode_rate:,.0f} events/s")


def bench_visibility(tmp: Path, kafka: KafkaSettings, n: int) -> None:
    settings = ApiSettings(
        environment="local",
        database_url=f"sqlite:///{tmp / 'v.db'}",
        frames_dir=tmp / "vf",
        kafka=kafka,
        sink_group_id=f"bench-vis-{uuid.uuid4().hex[:6]}",
        sink_poll_timeout_ms=100,
    )
    app = create_app(settings, run_sink=True)
    token = create_token(app.state.ctx.db, "bench", Role.SUPERVISOR, settings.token_pepper.get_secret_value())
    h = {"Authorization": f"Bearer {token}"}
    events = make_outcomes(n, datetime.now(UTC))
    lat, base = [], []
    with TestClient(app) as client, EventProducer(kafka, linger_ms=0) as producer:
        time.sleep(3)  # group join
        for ev in events:
            t = time.perf_counter()
            producer.send_sync(TopicRole.OUTCOMES, ev)
            base.append((time.perf_counter() - t) * 1000)
            while client.get(f"/api/v1/inspections/{ev.event_id}", headers=h).status_code != 200:
                time.sleep(0.002)
            lat.append((time.perf_counter() - t) * 1000)
    record(
        "outcome produced -> visible in API (sink thread, SQLite)",
        f"p50 {statistics.median(lat):.0f} ms, p99 {percentile(lat, 99):.0f} ms",
        f"{n} outcomes one at a time",
    )
    record(
        "  baseline: produce + broker ack (acks=all)",
        f"p50 {statistics.median(base):.1f} ms, p99 {percentile(base, 99):.1f} ms",
    )


def kafka_available(kafka: KafkaSettings) -> bool:
    try:
        wait_for_cluster(kafka, timeout_s=5)
        ensure_topics(kafka)
    except Exception as exc:  # no broker: skip the Kafka parts
        print(f"Kafka unavailable ({exc}); skipping the Kafka benchmarks")
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--db", type=Path, default=None, help="query database to reuse (made if missing)")
    parser.add_argument(
        "--postgres-url", default=None, help="queries on PostgreSQL (postgresql+psycopg://...)"
    )
    parser.add_argument("--queries-only", action="store_true", help="skip the ingest and visibility parts")
    parser.add_argument("--visibility", type=int, default=200)
    parser.add_argument("--bootstrap", default=None, help="Kafka bootstrap (default FACTORYLOOP_KAFKA_*)")
    parser.add_argument(
        "--no-freeze-heap", action="store_true", help="leave the startup heap to the GC (before session 3)"
    )
    args = parser.parse_args()
    kafka = KafkaSettings(**({"bootstrap_servers": args.bootstrap} if args.bootstrap else {}))
    kafka = KafkaSettings(
        bootstrap_servers=kafka.bootstrap_servers, topic_prefix=f"bench{uuid.uuid4().hex[:6]}."
    )
    with tempfile.TemporaryDirectory(prefix="fl-bench-api-") as d:
        tmp = Path(d)
        events = [] if args.queries_only else make_outcomes(args.events, datetime(2026, 1, 1, tzinfo=UTC))
        have_kafka = False
        if not args.queries_only:
            bench_write_path(tmp, events, args.batch)
            have_kafka = kafka_available(kafka)
        if have_kafka:
            bench_kafka_ingest(tmp, kafka, events, args.batch)
        url = args.postgres_url or f"sqlite:///{args.db or tmp / 'q.db'}"
        bench_queries(url, tmp / "qf", args.rows, args.samples, record, freeze_heap=not args.no_freeze_heap)
        if have_kafka:
            bench_visibility(tmp, kafka, args.visibility)
    print("\n| Measure | Result | Note |\n|---|---|---|")
    for name, value, note in RESULTS:
        print(f"| {name} | {value} | {note} |")


if __name__ == "__main__":
    main()
