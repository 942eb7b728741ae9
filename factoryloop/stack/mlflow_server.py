"""An MLflow tracking server (SQLite backend, artifacts proxied by the server) as a local process."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from factoryloop.stack.errors import ToolMissingError
from factoryloop.stack.http_service import HttpService, health

__all__ = ["MlflowServer", "health", "mlflow_executable"]


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


class MlflowServer(HttpService):
    """``mlflow server`` with its database, artifacts, log and pid file under ``state_dir``."""

    label = "MLflow"

    def __init__(self, state_dir: Path, port: int, host: str = "127.0.0.1", workers: int = 1) -> None:
        super().__init__("mlflow", state_dir, port, host, marker=str(state_dir / "mlflow.db"))
        self.workers = workers

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

    def prepare(self) -> None:
        (self.state_dir / "artifacts").mkdir(parents=True, exist_ok=True)

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.setdefault("MLFLOW_HOME", str(self.state_dir))
        # MLflow 3's job execution (GenAI scorers, trace roll-ups; unused here) starts seven huey consumer
        # processes beside the server: off, the server is healthy in about half the time on a busy 2-core box.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        return env
