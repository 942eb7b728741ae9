"""The defect API (``factoryloop api serve``, with its Kafka sink) as a local process of the stack.

It uses the API's own settings (database and frame store under ``$FACTORYLOOP_HOME/api`` by default, so
``factoryloop api create-token`` reaches the same database), wired to the stack's Kafka and MLflow unless
``FACTORYLOOP_KAFKA_*`` / ``FACTORYLOOP_API_*`` variables say otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from factoryloop.stack.http_service import HttpService


class ApiServer(HttpService):
    label = "API"
    health_path = "/api/v1/health"

    def __init__(
        self, state_dir: Path, port: int, *, kafka_bootstrap: str, mlflow_uri: str, host: str = "127.0.0.1"
    ) -> None:
        super().__init__("api", state_dir, port, host, marker=f"api serve --host {host} --port {port}")
        self.kafka_bootstrap = kafka_bootstrap
        self.mlflow_uri = mlflow_uri

    def command(self) -> list[str]:
        cli = [sys.executable, "-m", "factoryloop.cli"]
        return [*cli, "api", "serve", "--host", self.host, "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.setdefault("FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap)
        env.setdefault("FACTORYLOOP_API_MLFLOW_TRACKING_URI", self.mlflow_uri)
        # The local development stack: the API accepts its placeholder token pepper (a site refuses it).
        env.setdefault("FACTORYLOOP_API_ENVIRONMENT", "local")
        return env
