"""MLflow from its unit: factoryloop-mlflow's ExecStart with mlflow.env serves /health, and accepts the site's
host name in the Host header (MLFLOW_SERVER_ALLOWED_HOSTS) while refusing others (MLflow 3's DNS-rebinding
protection, which would otherwise refuse every client that uses http://central:5000).

Local changes only: the backend store and artifacts under tmp_path, 127.0.0.1 and a free port.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from factoryloop.stack.process import free_ports
from tests.integration.deploy.units import expand, unit

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]  # a fresh MLflow: its migrations take 1-2 min here


def _get(port: int, host_header: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # a first search is slow on a loaded box
    try:
        conn.request("GET", "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": host_header})
        return conn.getresponse().status
    finally:
        conn.close()


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False


def test_mlflow_from_its_unit(tmp_path: Path) -> None:
    _, argv, env = unit("factoryloop-mlflow.service")
    (port,) = free_ports(1)
    env |= {
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "HOME": str(tmp_path),
    }
    assert "central:5000" in env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    log = tmp_path / "mlflow.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            expand(argv, env),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not _healthy(port) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        assert _healthy(port), log.read_text()[-3000:]
        assert _get(port, "central:5000") == 200  # a line PC or the trainer with http://central:5000
        assert _get(port, "elsewhere.example:5000") != 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # systemd stops the whole control group
        proc.wait(60)
