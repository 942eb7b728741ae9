"""The trainer's /metrics over HTTP: ``factoryloop-trainer``'s ExecStart with its env files (trainer.env's
metrics port moved to a free one) on the session's Kafka and MLflow. It leads the rollout controller; its
ingest stores the reviews of a product nobody created, the new-labels trigger queues a retrain of it, the
retrain fails at once (no training: the product is unknown) and is counted as failed with its reason; the
API it polls is down, and that is counted too. SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.stack.process import free_ports
from factoryloop.topics import TopicRole
from tests.integration.deploy.units import unit
from tests.support import events as ev
from tests.support.prometheus import total, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow]

REVIEWS = 3


def _reviews(producer: EventProducer, product: str) -> None:
    crack = (ev.detection(class_name="crack", class_id=1, confidence=1.0),)
    for i in range(REVIEWS):
        img = np.random.default_rng(100 + i).integers(0, 255, (48, 64, 3), dtype=np.uint8)
        jpeg = cv2.imencode(".jpg", img)[1].tobytes()
        meta = ev.frame(jpeg, width=64, height=48, frame_id=f"g{i}", product=product)
        producer.send(TopicRole.FRAMES, meta, jpeg=jpeg)
        producer.send(
            TopicRole.LABELS, ev.label(product=product, frame_sha256=meta.jpeg_sha256, detections=crack)
        )
    producer.flush(30)


def test_trainer_metrics_count_a_failed_retrain(
    kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path
) -> None:
    _, argv, env = unit("factoryloop-trainer.service")
    assert env["FACTORYLOOP_TRAIN_METRICS_PORT"] == "9320"  # the site's port (docs/operations.md)
    (port,) = free_ports(1)
    env |= {
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "FACTORYLOOP_HOME": str(tmp_path / "home"),
        "FACTORYLOOP_DATASETS": str(tmp_path / "datasets"),
        "FACTORYLOOP_TRAIN_STATE_DIR": str(tmp_path / "training"),
        "FACTORYLOOP_TRAIN_MLFLOW_TRACKING_URI": mlflow_server,
        "FACTORYLOOP_TRAIN_API_URL": "http://127.0.0.1:9",  # nobody there: every poll fails
        "FACTORYLOOP_TRAIN_RETRAIN_AFTER_NEW_LABELS": str(REVIEWS),
        "FACTORYLOOP_TRAIN_METRICS_PORT": str(port),
        "HOME": str(tmp_path / "training"),
    }
    log = tmp_path / "trainer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/metrics"
    alive = lambda: None if proc.poll() is None else log.read_text()[-3000:]  # noqa: E731
    try:
        leading = wait_for(
            url, lambda s: s.get("factoryloop_trainer_controller_leader") == 1, timeout_s=90, alive=alive
        )
        assert leading["factoryloop_trainer_retrain_queue_depth"] == 0
        assert total(leading, "factoryloop_trainer_retrains_started_total") == 0
        with EventProducer(kafka_settings) as producer:
            _reviews(producer, "ghost")
        failed = wait_for(
            url,
            lambda s: (
                total(s, "factoryloop_trainer_retrains_failed_total", trigger="new_labels") >= 1
                and total(s, "factoryloop_trainer_api_poll_failures_total") >= 1
            ),
            timeout_s=60,
            alive=alive,
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # what systemctl stop sends
        code = proc.wait(120)
    assert code == 0, log.read_text()[-3000:]
    assert total(failed, "factoryloop_trainer_retrains_started_total", trigger="new_labels") == 1
    assert (
        total(failed, "factoryloop_trainer_retrains_failed_total", trigger="new_labels", reason="training")
        == 1
    )
    assert total(failed, "factoryloop_trainer_retrains_finished_total") == 0
    assert total(failed, "factoryloop_trainer_retrain_duration_seconds_count", result="failed") == 1
    assert (
        failed["factoryloop_trainer_retrain_queue_depth"] == 0
        and failed["factoryloop_trainer_retrains_running"] == 0
    )
    assert total(failed, "factoryloop_trainer_gate_decisions_total") == 0  # no model, no gate
    # The trainer's ingest, on the same endpoint.
    assert total(failed, "factoryloop_ingest_stored_total", kind="label") == REVIEWS
    assert total(failed, "factoryloop_ingest_stored_total", kind="frame") == REVIEWS
    assert "process_cpu_seconds_total" in failed
    assert "retrain of ghost (new_labels): TrainingError: no product 'ghost'" in log.read_text()
