"""`factoryloop api sink --processes 2`: two sink processes share the consumer group; every outcome is stored
once, both processes take a share, and SIGTERM stops both after their current batch."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.support.events import outcome

pytestmark = pytest.mark.kafka

WAVES, PER_WAVE = 30, 100


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM inspections").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def test_two_sink_processes_share_the_group(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    db = tmp_path / "api.sqlite"
    env = {
        **os.environ,
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "FACTORYLOOP_API_DATABASE_URL": f"sqlite:///{db}",
        "FACTORYLOOP_API_FRAMES_DIR": str(tmp_path / "frames"),
        "FACTORYLOOP_API_SINK_GROUP_ID": f"sink-{uuid.uuid4().hex[:8]}",
    }
    log = tmp_path / "sink.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from factoryloop.cli import main; main()", "api", "sink", "-p", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            # Outcomes of 12 stations (keys spread over the 6 partitions), in waves while the group forms.
            with EventProducer(kafka_settings) as producer:
                for wave in range(WAVES):
                    for i in range(PER_WAVE):
                        event = outcome(
                            line_id=f"line-{i % 3}", station_id=f"st-{i % 4}", frame_id=f"{wave}-{i}"
                        )
                        producer.send(TopicRole.OUTCOMES, event, key=event.station_key)
                    producer.flush()
                    time.sleep(0.5)
            deadline = time.monotonic() + 120
            while _count(db) < WAVES * PER_WAVE and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
            assert _count(db) == WAVES * PER_WAVE, log.read_text()[-3000:]
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(60)
    text = log.read_text()
    assert rc == 0, text[-3000:]
    stopped = re.findall(
        r"(sink-\d) INFO api\.sink\.processes: sink stopped after (\d+) events \((\d+) new", text
    )
    assert sorted(name for name, _, _ in stopped) == ["sink-0", "sink-1"], text[-3000:]
    assert sum(int(new) for _, _, new in stopped) == WAVES * PER_WAVE  # each outcome stored once
    assert all(int(events) > 0 for _, events, _ in stopped), stopped  # both took a share


def test_a_failing_sink_process_fails_the_command(tmp_path: Path) -> None:
    """No broker: the children fail to connect; the parent stops them all and exits non-zero with why."""
    env = {
        **os.environ,
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "FACTORYLOOP_API_DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite'}",
        "FACTORYLOOP_API_FRAMES_DIR": str(tmp_path / "frames"),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from factoryloop.cli import main; main()", "api", "sink", "-p", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert "cannot reach Kafka at 127.0.0.1:9" in done.stderr
    assert re.search(r"sink-\d exited with 1", done.stderr), done.stderr[-3000:]
