"""``factoryloop train ingest --metrics-port``: the ingest's /metrics over HTTP while it consumes from the
real broker: frames, predictions and labels stored, drops by reason (a replayed outcome, a shadow outcome, an
undecodable record), the lag back to 0; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from factoryloop.kafka import EventProducer
from factoryloop.schemas import Detection
from factoryloop.settings import KafkaSettings
from factoryloop.stack.process import free_ports
from factoryloop.topics import TopicRole
from tests.support import events as ev
from tests.support.prometheus import total, wait_for

pytestmark = pytest.mark.kafka

FRAMES = 6


def _send(producer: EventProducer, settings: KafkaSettings) -> None:
    """FRAMES frames, an outcome and a review of each, the first outcome twice, a shadow outcome, garbage."""
    crack = (ev.detection(class_name="crack", class_id=1, confidence=0.9),)
    first = None
    for i in range(FRAMES):
        img = np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        jpeg = cv2.imencode(".jpg", img)[1].tobytes()
        meta = ev.frame(jpeg, width=64, height=48, frame_id=f"f{i}", product="plate")
        producer.send(TopicRole.FRAMES, meta, jpeg=jpeg)
        out = ev.outcome(frame_sha256=meta.jpeg_sha256, frame_width=64, frame_height=48, product="plate")
        producer.send(TopicRole.OUTCOMES, out)
        first = first or out
        dets: tuple[Detection, ...] = crack if i % 2 else ()
        producer.send(
            TopicRole.LABELS, ev.label(product="plate", frame_sha256=meta.jpeg_sha256, detections=dets)
        )
    assert first is not None
    producer.send(TopicRole.OUTCOMES, first)  # a replay
    producer.send(TopicRole.OUTCOMES, ev.outcome(shadow=True, frame_sha256=first.frame_sha256))
    producer.send_raw(settings.topics.outcomes, b"\x00garbage", key="line-1/st-1").get(timeout=10)
    producer.flush(30)


def test_ingest_metrics_move_with_the_work(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    env = {
        **os.environ,
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "FACTORYLOOP_HOME": str(tmp_path / "home"),
    }
    argv = [sys.executable, "-m", "factoryloop.cli", "train", "ingest", "--store", str(tmp_path / "store")]
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--group", "metrics-test", "--metrics-port", str(port)], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}/metrics"
    alive = lambda: None if proc.poll() is None else log.read_text()[-3000:]  # noqa: E731
    try:
        before = wait_for(url, lambda s: "process_cpu_seconds_total" in s, timeout_s=60, alive=alive)
        assert total(before, "factoryloop_ingest_stored_total") == 0
        with EventProducer(kafka_settings) as producer:
            _send(producer, kafka_settings)
        after = wait_for(
            url,
            lambda s: (
                total(s, "factoryloop_ingest_stored_total", kind="label") == FRAMES
                and total(s, "factoryloop_ingest_dropped_total", reason="dead_letter") == 1
                and total(s, "factoryloop_ingest_dropped_total", reason="shadow") == 1
            ),
            timeout_s=45,
            alive=alive,
        )
        settled = wait_for(
            url, lambda s: total(s, "factoryloop_ingest_lag_records") == 0, timeout_s=20, alive=alive
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert f"frames {FRAMES}, predictions {FRAMES}, labels {FRAMES}" in text  # the command's own summary
    assert total(after, "factoryloop_ingest_stored_total", kind="frame") == FRAMES
    assert total(after, "factoryloop_ingest_stored_total", kind="prediction") == FRAMES
    assert total(after, "factoryloop_ingest_dropped_total", reason="duplicate") == 1
    assert total(after, "factoryloop_ingest_consumed_total", role="frames") == FRAMES
    # Every outcome polled (the replay, the shadow one; the garbage was dead-lettered, not returned).
    assert total(after, "factoryloop_ingest_consumed_total", role="outcomes") == FRAMES + 2
    assert total(settled, "factoryloop_ingest_batches_total") >= 1
    assert settled["factoryloop_ingest_last_batch_timestamp_seconds"] > 0
    assert {f"factoryloop_ingest_lag_records{{role={r}}}" for r in ("frames", "outcomes", "labels")} <= set(
        settled
    )
