"""The demo's defect API as `factoryloop demo run` keeps it after the loop: a real `api serve` process, a
token minted for the person at the screen, the dashboard reached with it; stopped by its owner."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from factoryloop.settings import KafkaSettings
from factoryloop.sim.demo.demo import start_demo_api
from training.settings import TrainSettings

pytestmark = [pytest.mark.kafka]


def test_the_demo_api_serves_the_dashboard_to_a_new_engineer_token(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    settings = TrainSettings(mlflow_tracking_uri="http://127.0.0.1:1", state_dir=tmp_path / "training")
    api = start_demo_api(kafka_settings, settings, tmp_path / "demo")
    try:
        token = api.create_token("engineer", "person-at-the-screen")
        assert token != api.token
        with httpx.Client(base_url=api.url, timeout=30.0) as client:
            refused = client.post("/ui/login", data={"token": "flt_not-a-token"})
            assert refused.status_code == 401
            login = client.post("/ui/login", data={"token": token}, headers={"Origin": api.url})
            assert login.status_code == 303 and "fl_token" in login.cookies
            page = client.get("/ui/rollouts")  # a redirect to the login page without a valid cookie
            assert page.status_code == 200 and "<h1>Rollouts" in page.text, page.text[:300]
            asked = client.get("/api/v1/rollouts", headers={"Authorization": f"Bearer {token}"})
            assert asked.status_code == 200 and asked.json() == [], asked.text
    finally:
        api.stop()
    assert api.proc.poll() is not None
