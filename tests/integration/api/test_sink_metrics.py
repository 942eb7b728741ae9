"""The sinks' /metrics over HTTP: ``factoryloop api sink -p 2 --metrics-port P`` serves one endpoint per
process (P, P+1). While the test holds the SQLite database's write lock the batches fail and the lag shows
what waits; once it lets go every outcome is stored once, the lag drains to 0, the counters add up across the
two processes. And the API's own /metrics counts the review queue per product."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.stack.process import free_ports
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import wait_for as wait_api
from tests.support.events import outcome
from tests.support.prometheus import scrape, total, wait_for

pytestmark = pytest.mark.kafka

OUTCOMES = 300


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM inspections").fetchone()[0])


def test_two_sink_processes_report_lag_errors_and_throughput(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    db = tmp_path / "api.sqlite"
    port = _free_pair()
    env = {
        **os.environ,
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "FACTORYLOOP_API_DATABASE_URL": f"sqlite:///{db}",
        "FACTORYLOOP_API_FRAMES_DIR": str(tmp_path / "frames"),
        "FACTORYLOOP_API_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
        "FACTORYLOOP_API_SINK_BATCH_SIZE": "20",  # several batches, so a backlog stays behind each poll
    }
    argv = [sys.executable, "-m", "factoryloop.cli", "api", "sink", "-p", "2", "--metrics-port", str(port)]
    urls = [f"http://127.0.0.1:{p}/metrics" for p in (port, port + 1)]
    log = tmp_path / "sink.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    alive = lambda: None if proc.poll() is None else log.read_text()[-3000:]  # noqa: E731
    lock = None
    try:
        for url in urls:  # both processes up, each on its own port, consuming
            wait_for(url, lambda s: s.get("factoryloop_api_sink_running") == 1, timeout_s=60, alive=alive)
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # the sinks' writes wait for it (busy timeout), then fail
        with EventProducer(kafka_settings) as producer:
            for i in range(OUTCOMES):
                event = outcome(line_id=f"line-{i % 3}", station_id=f"st-{i % 4}", frame_id=f"f-{i}")
                producer.send(TopicRole.OUTCOMES, event, key=event.station_key)
            producer.flush(30)

        def both(ready):  # type: ignore[no-untyped-def]
            return lambda _: ready([scrape(u) for u in urls])

        stuck = wait_for(
            urls[0],
            both(
                lambda s: (
                    sum(total(x, "factoryloop_api_sink_errors_total") for x in s) >= 1
                    and sum(total(x, "factoryloop_api_sink_lag_records", role="outcomes") for x in s) > 0
                )
            ),
            timeout_s=45,
            alive=alive,
        )
        assert _count(db) == 0
        lock.execute("ROLLBACK")
        lock.close()
        lock = None
        wait_for(
            urls[0],
            both(
                lambda s: (
                    sum(total(x, "factoryloop_api_sink_inserted_total") for x in s) == OUTCOMES
                    and sum(total(x, "factoryloop_api_sink_lag_records") for x in s) == 0
                )
            ),
            timeout_s=60,
            alive=alive,
        )
        done = [scrape(u) for u in urls]
    finally:
        if lock is not None:
            lock.close()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    assert rc == 0, log.read_text()[-3000:]
    assert _count(db) == OUTCOMES
    assert stuck["factoryloop_api_sink_running"] == 1
    events = [total(s, "factoryloop_api_sink_events_total", role="outcomes") for s in done]
    assert sum(events) >= OUTCOMES and all(e > 0 for e in events)  # both took a share; failed batches re-read
    assert sum(total(s, "factoryloop_api_sink_batch_seconds_count") for s in done) >= OUTCOMES / 20
    assert all(s["factoryloop_api_sink_last_batch_timestamp_seconds"] > 0 for s in done)
    assert all("process_resident_memory_bytes" in s for s in done)


def _free_pair() -> int:
    """A port P with P + 1 free too (the second sink process' port)."""
    for _ in range(50):
        (port,) = free_ports(1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def test_api_metrics_count_the_review_queue(api_factory, kafka_settings: KafkaSettings) -> None:  # type: ignore[no-untyped-def]
    api = api_factory(kafka_settings)
    queued = [
        outcome(verdict="UNCERTAIN", sample_reason="uncertain", product=p) for p in ("plate", "plate", "tile")
    ]
    with EventProducer(kafka_settings) as producer:
        for o in queued:
            producer.send_sync(TopicRole.OUTCOMES, o)
    expected = {
        'factoryloop_api_review_queue_items{product="plate"} 2.0',
        'factoryloop_api_review_queue_items{product="tile"} 1.0',
    }

    def queue_lines() -> set[str] | None:
        resp = api.get("/metrics")
        assert resp.status_code == 200, resp.text
        lines = set(resp.text.splitlines())
        return lines if expected <= lines else None

    lines = wait_api(queue_lines, what="the review queue on /metrics")
    assert any(line.startswith("factoryloop_api_sink_lag_records{") for line in lines)
    assert api.client.get("/metrics").status_code == 401  # a token is needed
