"""deploy/prometheus run by a real Prometheus server (Debian's) against a served API: the site's scrape
config (the API's job with its bearer-token file) and alert rules as shipped, only the targets and intervals
changed. The API is scraped with the token, a sink that does not answer goes pending on FactoryloopSinkDown,
and the first rollback asked through the API fires FactoryloopRollbackRequested."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.security import Role
from factoryloop.settings import KafkaSettings
from tests.integration.api import helpers
from tests.integration.api.test_browser import _free_port, serve

pytestmark = pytest.mark.kafka
DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'api.db'}"


def site_config(tmp_path: Path, api: str, token: str, dead: str) -> Path:
    """deploy/prometheus/prometheus.yml with the test's targets (the API; a sink port nobody listens on)."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / "alerts.yml")]
    secret = tmp_path / "factoryloop-api.token"
    secret.write_text(token)
    secret.chmod(0o600)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs["factoryloop-api"]["authorization"]["credentials_file"] = str(secret)
    jobs["factoryloop-api"]["static_configs"] = [{"targets": [api]}]
    jobs["factoryloop-sinks"]["static_configs"] = [{"targets": [dead]}]
    config["scrape_configs"] = [jobs["factoryloop-api"], jobs["factoryloop-sinks"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def prometheus(config: Path, data: Path) -> Iterator[httpx.Client]:
    port = _free_port()
    log = (data.parent / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        wait_for(lambda: _ready(client), 60, "Prometheus ready", data.parent / "prometheus.log")
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(20)
        log.close()


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.TransportError:
        return False


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, log: Path) -> Any:
    """helpers.wait_for, with the tail of Prometheus' log when it times out."""
    try:
        return helpers.wait_for(check, timeout_s, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; log: {log.read_text()[-3000:]}") from exc


def query(client: httpx.Client, promql: str) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/query", params={"query": promql}).json()["data"]["result"])


def alert_state(client: httpx.Client, name: str) -> str | None:
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    return next((a["state"] for a in alerts if a["labels"]["alertname"] == name), None)


@pytest.mark.skipif(PROMETHEUS is None, reason="no prometheus binary (Debian package prometheus)")
def test_shipped_scrape_config_and_rules_on_a_real_prometheus(
    api_factory, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    api = api_factory(kafka_settings)
    with serve(api) as (base, _):
        target, dead = base.removeprefix("http://"), f"127.0.0.1:{_free_port()}"
        config = site_config(tmp_path, target, api.tokens[Role.SUPERVISOR], dead)
        log = tmp_path / "prometheus.log"
        with prometheus(config, tmp_path / "tsdb") as prom:
            rules = prom.get("/api/v1/rules").json()["data"]["groups"]
            assert {"FactoryloopRollbackRequested", "FactoryloopSinkDown"} <= {
                r["name"] for g in rules for r in g["rules"]
            }
            # scraped with the token file: up, and the rollback counter exported before this test's request
            # (at 0 in a fresh API process, as the unit test checks; other tests here may have counted some)
            wait_for(lambda: query(prom, 'up{job="factoryloop-api"} == 1'), 30, "the API scraped", log)
            wait_for(
                lambda: query(prom, 'factoryloop_api_rollout_requests_total{action="rollback"}'),
                30,
                "the rollback counter",
                log,
            )
            assert (
                wait_for(lambda: alert_state(prom, "FactoryloopSinkDown"), 30, "sink down", log) == "pending"
            )
            assert alert_state(prom, "FactoryloopRollbackRequested") is None

            asked = api.post(
                "/api/v1/rollouts",
                Role.ENGINEER,
                json={"product": "plate", "action": "rollback", "reason": "engineer's call"},
            )
            assert asked.status_code == 202, asked.text
            wait_for(
                lambda: alert_state(prom, "FactoryloopRollbackRequested") == "firing", 30, "the alert", log
            )
            (fired,) = [
                a
                for a in prom.get("/api/v1/alerts").json()["data"]["alerts"]
                if a["labels"]["alertname"] == "FactoryloopRollbackRequested"
            ]
            assert fired["labels"]["severity"] and fired["labels"]["job"] == "factoryloop-api"
