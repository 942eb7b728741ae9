"""MLflow of the backup tests: the local stack's server on a home (``<home>/stack/mlflow``), a registered
model version with tags, an alias and an artifact, and what a client sees of it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient

from factoryloop.stack.errors import PortInUseError
from factoryloop.stack.mlflow_server import MlflowServer
from factoryloop.stack.process import free_ports

MODEL = "factoryloop-widget"
TAGS = {"onnx_sha256": "0" * 64, "class_names": '["scratch", "dent"]', "imgsz": "320"}


@contextmanager
def mlflow_on(home: Path) -> Iterator[str]:
    """The stack's MLflow server on ``home`` (its backend store and artifacts there); its URI."""
    for attempt in range(3):
        server = MlflowServer(home / "stack" / "mlflow", free_ports(1)[0])
        try:
            server.start(timeout_s=180.0)
            break
        except PortInUseError:
            if attempt == 2:
                raise
    try:
        yield server.uri
    finally:
        server.stop()


def seed_mlflow(uri: str, tmp: Path) -> None:
    """A run with a metric and a model artifact, registered as version 1 with tags and alias champion."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("factoryloop-training")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "mAP50-95", 0.42)
    folder = tmp / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(hashlib.sha256(b"weights").digest() * 512)
    client.log_artifacts(run.info.run_id, str(folder), "model")
    client.set_terminated(run.info.run_id)
    source = f"{client.get_run(run.info.run_id).info.artifact_uri.rstrip('/')}/model"
    client.create_registered_model(MODEL, tags={"product": "widget"})
    client.create_model_version(MODEL, source=source, run_id=run.info.run_id, tags=TAGS)
    client.set_registered_model_alias(MODEL, "champion", "1")


def mlflow_view(uri: str, dest: Path) -> dict[str, Any]:
    """The registered versions (tags, aliases, source, run metric) and the sha256 of their artifact files."""
    client = MlflowClient(tracking_uri=uri)
    versions = []
    for mv in client.search_model_versions(f"name = '{MODEL}'"):
        local = Path(
            download_artifacts(artifact_uri=mv.source, dst_path=str(dest / mv.version), tracking_uri=uri)
        )
        files = {
            p.relative_to(local).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(local.rglob("*"))
            if p.is_file()
        }
        run = client.get_run(mv.run_id)
        versions.append(
            {
                "version": mv.version,
                "tags": dict(mv.tags),
                "aliases": sorted(mv.aliases),
                "source": mv.source,
                "metrics": run.data.metrics,
                "files": files,
            }
        )
    model = client.get_registered_model(MODEL)
    return {"versions": versions, "model_tags": dict(model.tags), "aliases": dict(model.aliases)}
