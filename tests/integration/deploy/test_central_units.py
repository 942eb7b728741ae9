"""The central host from its unit files: migrations, the API and two sinks run with the units' command lines
and the example env files (site.env, api.env, secrets/api.env.example), on the session's Kafka and SQLite.

What differs from a site is only where things are: the broker, a topic prefix, a database and folders under
tmp_path, and 127.0.0.1 with a free port. systemd itself (users, namespaces, the syscall filter) is not here.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.stack.process import free_ports
from factoryloop.topics import TopicRole
from tests.integration.deploy.units import unit
from tests.support.events import outcome

pytestmark = pytest.mark.kafka
OUTCOMES = 200


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM inspections").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def _health(port: int) -> dict[str, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as resp:
            return dict(json.loads(resp.read()))
    except OSError:
        return None


def test_api_and_sinks_from_the_units(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    db = tmp_path / "api.sqlite"
    local = {  # where this machine differs from the site in the example files
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "FACTORYLOOP_HOME": str(tmp_path / "home"),
        "FACTORYLOOP_DATASETS": str(tmp_path / "datasets"),
        "FACTORYLOOP_API_DATABASE_URL": f"sqlite:///{db}",
        "FACTORYLOOP_API_FRAMES_DIR": str(tmp_path / "frames"),
        "FACTORYLOOP_API_PRODUCTS_DIR": str(tmp_path / "datasets" / "products"),
        "FACTORYLOOP_API_MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "FACTORYLOOP_API_HOST": "127.0.0.1",
        "FACTORYLOOP_API_PORT": str(port),
        "FACTORYLOOP_API_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
        "FACTORYLOOP_API_SINK_METRICS_PORT": "0",  # not the site's 931<n> (test_sink_metrics scrapes them)
    }
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(name: str, instance: str = "") -> None:
        _, argv, env = unit(name, instance)
        log = tmp_path / f"{name}{instance}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, env={**os.environ, **env, **local}, stdout=out, stderr=subprocess.STDOUT
            )
        procs.append((name + instance, proc, log))

    try:
        _, migrate, env = unit("factoryloop-migrate.service")  # the oneshot the API and the sinks require
        done = subprocess.run(
            migrate, env={**os.environ, **env, **local}, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr
        start("factoryloop-api.service")
        deadline = time.monotonic() + 120
        while (health := _health(port)) is None and time.monotonic() < deadline:
            assert procs[0][1].poll() is None, procs[0][2].read_text()[-3000:]
            time.sleep(0.5)
        expected = {"status": "ok", "database": "ok", "sink": "disabled"}  # FACTORYLOOP_API_RUN_SINK=false
        assert health is not None and expected.items() <= health.items(), health
        start("factoryloop-sink@.service", "1")
        start("factoryloop-sink@.service", "2")
        # Both consuming before anything is sent (and so before the stop): a sink still importing when
        # SIGTERM comes dies of it (-15) before its handler exists, which says nothing of its shutdown.
        deadline = time.monotonic() + 120
        while not all("sink consuming" in log.read_text() for *_, log in procs[1:]):
            assert time.monotonic() < deadline, [log.read_text()[-2000:] for *_, log in procs[1:]]
            assert all(p.poll() is None for _, p, _ in procs), [log.read_text()[-2000:] for *_, log in procs]
            time.sleep(0.5)
        with EventProducer(kafka_settings) as producer:
            for i in range(OUTCOMES):
                event = outcome(line_id=f"line-{i % 3}", station_id=f"st-{i % 4}", frame_id=f"f-{i}")
                producer.send(TopicRole.OUTCOMES, event, key=event.station_key)
            producer.flush()
        deadline = time.monotonic() + 120
        while _count(db) < OUTCOMES and time.monotonic() < deadline:
            assert all(p.poll() is None for _, p, _ in procs), [log.read_text()[-2000:] for *_, log in procs]
            time.sleep(0.5)
        assert _count(db) == OUTCOMES
    finally:
        for _, proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # what systemctl stop sends
        codes = {name: proc.wait(60) for name, proc, _ in procs}
    # systemd counts an exit by SIGTERM as clean: uvicorn re-raises the signal after its graceful shutdown.
    clean = {name: code in (0, -signal.SIGTERM) for name, code in codes.items()}
    logs = {name: log.read_text() for name, _, log in procs}
    assert all(clean.values()), {name: (codes[name], logs[name][-1500:]) for name in codes}
    assert "Finished server process" in logs["factoryloop-api.service"]
    assert codes["factoryloop-sink@.service1"] == codes["factoryloop-sink@.service2"] == 0
