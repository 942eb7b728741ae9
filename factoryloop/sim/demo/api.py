"""The defect API for the demo: ``factoryloop api serve`` (with its Kafka sink, which builds the review queue
from the agents' outcomes and frames) as a process on a free local port, its database and frame store in the
demo's work folder, its product catalog the dataset store's; a supervisor token for the simulated reviews, and
:meth:`DemoApi.create_token` for the person who browses the dashboard afterwards."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from factoryloop.settings import KafkaSettings
from factoryloop.sim.demo.steps import DemoError
from factoryloop.stack.process import free_ports

logger = logging.getLogger(__name__)


@dataclass
class DemoApi:
    url: str
    token: str  # the simulated supervisor's
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]

    def create_token(self, role: str, name: str) -> str:
        """A new token of ``role`` in the demo API's database (``factoryloop api create-token``)."""
        return _create_token(self.env, role, name)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


CLI = [sys.executable, "-m", "factoryloop.cli", "api"]


def _create_token(env: dict[str, str], role: str, name: str) -> str:
    made = subprocess.run(
        [*CLI, "create-token", "--role", role, "--name", name],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if made.returncode != 0:
        raise DemoError(f"could not create the {role} API token {name!r}: {made.stderr.strip()[-2000:]}")
    return made.stdout.strip().splitlines()[-1]


def start_api(
    kafka: KafkaSettings, mlflow_uri: str, products_dir: Path, workdir: Path, timeout_s: float = 120.0
) -> DemoApi:
    """Create a supervisor token, start the API process, wait until ``/api/v1/health`` answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FACTORYLOOP_API_DATABASE_URL": f"sqlite:///{workdir / 'api.db'}",
        "FACTORYLOOP_API_FRAMES_DIR": str(workdir / "frames"),
        "FACTORYLOOP_API_PRODUCTS_DIR": str(products_dir),
        "FACTORYLOOP_API_MLFLOW_TRACKING_URI": mlflow_uri,
        "FACTORYLOOP_API_SINK_GROUP_ID": f"demo-api-sink-{uuid.uuid4().hex[:8]}",
        "FACTORYLOOP_API_SINK_POLL_TIMEOUT_MS": "100",
        "FACTORYLOOP_API_ENVIRONMENT": "local",  # the local demo stack
        "FACTORYLOOP_API_TOKEN_PEPPER": uuid.uuid4().hex,  # this run's own
        "FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "FACTORYLOOP_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
    }
    token = _create_token(env, "supervisor", "sim-supervisor")
    port = free_ports(1)[0]
    log = workdir / "api.log"
    proc = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    api = DemoApi(url, token, proc, log, env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"the API exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2.0) as resp:
                if resp.status == 200:
                    logger.info("demo API at %s", url)
                    return api
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    api.stop()
    raise DemoError(f"the API did not answer within {timeout_s:.0f} s; see {log}")
