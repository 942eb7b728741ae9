"""The trainer service on the real broker and a real API app: reviews on Kafka, once the ingest has stored
them, fire the new-labels trigger; an engineer's API job is claimed and closed; one product is retrained at a
time.

The retrain itself is the injected ``run`` (training on MLflow is covered by test_retrain_gate and the
closed-loop test); everything around it - Kafka, the triggers, the queue, the API's job protocol - is real.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.security import Role, create_token
from api.settings import ApiSettings
from factoryloop.kafka import EventProducer
from factoryloop.schemas import Detection
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.support import events as ev
from training.datasets import DatasetStore
from training.service import TrainerService
from training.settings import TrainSettings
from training.triggers import NewLabelsTriggerConfig, RetrainRequest, TriggersConfig
from training.triggers.api_jobs import ApiJobSource

pytestmark = pytest.mark.kafka


def _review(producer: EventProducer, product: str, seed: int, detections: tuple[Detection, ...]) -> None:
    """A frame of ``product`` and its review: the review is stored (and counted) once its frame is."""
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    meta = ev.frame(jpeg, width=64, height=48, frame_id=f"f{seed}", product=product)
    producer.send(TopicRole.FRAMES, meta, jpeg=jpeg)
    producer.send(
        TopicRole.LABELS, ev.label(product=product, frame_sha256=meta.jpeg_sha256, detections=detections)
    )


def test_labels_and_api_jobs_start_retrains(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    api_settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        frames_dir=tmp_path / "frames",
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
    )
    app = create_app(api_settings, run_sink=False)
    pepper = api_settings.token_pepper.get_secret_value()
    engineer = create_token(app.state.ctx.db, "trainer-1", Role.ENGINEER, pepper)
    ran: list[RetrainRequest] = []
    overlap = threading.Event()
    busy = threading.Lock()

    def run(request: RetrainRequest) -> str:
        if not busy.acquire(blocking=False):
            overlap.set()
        ran.append(request)
        time.sleep(0.5)
        busy.release()
        return f"v{len(ran)} trained for {request.product}"

    with TestClient(app) as client, DatasetStore(tmp_path / "store") as store:
        headers = {"Authorization": f"Bearer {engineer}"}
        job = client.post(
            "/api/v1/retrains", headers=headers, json={"product": "plate", "reason": "engineer"}
        )
        assert job.status_code == 201, job.text
        settings = TrainSettings(state_dir=tmp_path / "state", kafka=kafka_settings)
        config = TriggersConfig(
            triggers=(NewLabelsTriggerConfig(min_labels=5, classes=("crack",)),), check_every_s=0.5
        )
        source = ApiJobSource("http://testserver", SecretStr(engineer), client=client)
        service = TrainerService(store, settings, config, api=source, run=run)
        stop = threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,), kwargs={"api_poll_s": 0.3}, daemon=True)
        thread.start()
        with EventProducer(kafka_settings) as producer:
            crack = (ev.detection(class_name="crack", class_id=1, confidence=1.0),)
            for i in range(5):
                _review(producer, "plate", i, crack if i else ())
            _review(producer, "plate", 5, crack)
            producer.flush(30)
        deadline = time.monotonic() + 60
        while len(service.worker.reports) < 2 and time.monotonic() < deadline:
            assert not service.errors, service.errors
            time.sleep(0.2)
        stop.set()
        thread.join(30)

        triggers = sorted(r.request.trigger for r in service.worker.reports)
        assert triggers == ["api", "new_labels"], service.worker.reports
        assert all(r.ok for r in service.worker.reports)
        assert not overlap.is_set()  # one retrain of the product at a time
        new_labels = next(r for r in service.worker.reports if r.request.trigger == "new_labels")
        assert new_labels.request.reason.startswith(
            "5 new reviews with crack"
        )  # the crack-free review skipped
        assert store.review_counts(classes=["crack"]) == {}  # counted from the store, then marked
        final = client.get(f"/api/v1/retrains/{job.json()['id']}", headers=headers).json()
        assert final["status"] == "succeeded" and final["claimed_by"] == "trainer-1"
        assert final["result"]["summary"].endswith("trained for plate")
