"""The trainer from its unit: factoryloop-trainer's ExecStart with site.env, trainer.env and the secrets
example runs (leads the rollout controller, ingests) on the session's Kafka and MLflow, and stops on SIGTERM.

Local changes only: broker and prefix, MLflow URI, state and dataset folders under tmp_path, and the API URL
pointed at a closed local port (the trainer keeps polling it and logs the failure).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from factoryloop.settings import KafkaSettings
from tests.integration.deploy.units import unit

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow]


def test_trainer_from_its_unit(kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path) -> None:
    _, argv, env = unit("factoryloop-trainer.service")
    assert argv[-2:] == ["train", "watch"]
    env |= {
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "FACTORYLOOP_HOME": str(tmp_path / "home"),
        "FACTORYLOOP_DATASETS": str(tmp_path / "datasets"),
        "FACTORYLOOP_TRAIN_STATE_DIR": str(tmp_path / "training"),
        "FACTORYLOOP_TRAIN_MLFLOW_TRACKING_URI": mlflow_server,
        "FACTORYLOOP_TRAIN_API_URL": "http://127.0.0.1:9",
        "HOME": str(tmp_path / "training"),  # the unit's Environment=HOME, under tmp_path here
        "FACTORYLOOP_TRAIN_METRICS_PORT": "0",  # not the site's 9320 (test_trainer_metrics scrapes it)
    }
    log = tmp_path / "trainer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "trainer watching" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        assert "trainer watching" in log.read_text(), log.read_text()[-3000:]
        time.sleep(10)  # leads, ingests, polls the (closed) API
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # what systemctl stop sends
        code = proc.wait(120)
    assert code == 0, log.read_text()[-3000:]
    assert (tmp_path / "training").is_dir() and (tmp_path / "datasets").is_dir()
