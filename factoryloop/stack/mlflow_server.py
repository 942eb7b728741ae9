"""An MLflow tracking server (SQLite backend, artifacts proxied by the server) as a local process."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from factoryloop.stack.errors import ServiceStartError, ToolMissingError
from factoryloop.stack.process import ManagedProcess, check_ports, log_tail

logger = logging.getLogger(__name__)


def mlflow_executable() -> list[str]:
    """The command that runs the ``mlflow`` CLI of this interpreter (or the one on PATH)."""
    beside = Path(sys.executable).with_name("mlflow")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("mlflow")
    if found:
        return [found]
    raise ToolMissingError(
        "mlflow is not installed: run `pip install 'mlflow>=3'` (or `pip install -e '.[training]'`)."
    )


def health(uri: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET <uri>/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class MlflowServer:
    """``mlflow server`` with its database, artifacts, log and pid file under ``state_dir``."""

    def __init__(self, state_dir: Path, port: int, host: str = "127.0.0.1", workers: int = 1) -> None:
        self.state_dir = state_dir
        self.host = host
        self.port = port
        self.workers = workers
        self.process = ManagedProcess(
            "mlflow", state_dir / "mlflow.pid", state_dir / "mlflow.log", marker=str(state_dir / "mlflow.db")
        )

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def running(self) -> bool:
        return self.process.running()

    def healthy(self) -> bool:
        return health(self.uri)

    def command(self) -> list[str]:
        return [
            *mlflow_executable(),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.state_dir / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.state_dir / "artifacts"),
            "--serve-artifacts",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the server unless running, then wait for ``/health``."""
        if not self.running():
            check_ports(self.host, {"MLflow": self.port})
            (self.state_dir / "artifacts").mkdir(parents=True, exist_ok=True)
            env = dict(os.environ)
            env.setdefault("MLFLOW_HOME", str(self.state_dir))
            self.process.start(self.command(), env=env, cwd=self.state_dir)
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout_s: float) -> None:
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.process.exited():
                raise ServiceStartError(
                    f"MLflow server exited during start-up; log {self.log_file}:\n{log_tail(self.log_file)}"
                )
            if self.healthy():
                logger.info("MLflow ready at %s in %.1fs", self.uri, time.monotonic() - started)
                return
            time.sleep(0.5)
        raise ServiceStartError(
            f"MLflow at {self.uri} not healthy within {timeout_s:.0f}s; log {self.log_file}:\n"
            f"{log_tail(self.log_file)}"
        )

    def stop(self, timeout_s: float = 20.0) -> bool:
        return self.process.stop(timeout_s)
