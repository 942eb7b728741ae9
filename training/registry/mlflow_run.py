"""Log one training to MLflow: params, dataset hash, per-epoch and final metrics, model artifacts, git rev."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from training.errors import RegistryError
from training.yolo.export import ExportedModel
from training.yolo.train import TrainResult

logger = logging.getLogger(__name__)

MODEL_DIR = "model"  # artifact folder: model.pt, model.onnx, [model.int8.onnx,] class_map.json, manifest.json


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str  # the artifact folder (registered as the model version's source)
    onnx_uri: str  # the fp32 export
    sha256: str  # of the fp32 export
    class_names: tuple[str, ...]
    imgsz: int
    edge_file: str = "model.onnx"  # what a Deployment points at: model.onnx or model.int8.onnx
    edge_sha256: str = ""  # of edge_file ("" : the fp32 sha256)
    edge_precision: Literal["fp32", "int8"] = "fp32"


def git_revision(cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(mlflow: Any, name: str) -> str:
    exp = mlflow.get_experiment_by_name(name)
    return str(exp.experiment_id) if exp is not None else str(mlflow.create_experiment(name))


def _metrics(result: TrainResult) -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    out = [
        Metric(key.replace("-", "_"), value, now, int(row["epoch"]))
        for row in result.epochs
        for key, value in row.items()
        if key != "epoch"
    ]
    out += [Metric(f"final_{k.replace('-', '_')}", v, now, 0) for k, v in result.metrics.items()]
    for name, m in result.per_class.items():
        out += [
            Metric(f"final_precision_{name}", m.precision, now, 0),
            Metric(f"final_recall_{name}", m.recall, now, 0),
        ]
    out.append(Metric("train_wall_s", result.wall_s, now, 0))
    out.append(Metric("train_images_per_s", result.images_per_s, now, 0))
    return out


def log_training(
    tracking_uri: str,
    experiment: str,
    *,
    product: str,
    dataset_sha256: str,
    params: Mapping[str, Any],
    result: TrainResult,
    exported: ExportedModel,
    manifest: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    edge: ExportedModel | None = None,
) -> LoggedModel:
    """Create a finished MLflow run holding everything needed to audit and deploy the model.

    ``edge``: the file the edge runs when it is not ``exported`` (the INT8 twin), logged beside it.
    """
    from mlflow.entities import Param, RunTag

    twin = edge if edge is not None and edge.path != exported.path else None
    mlflow = client(tracking_uri)
    try:
        run = mlflow.create_run(
            experiment_id(mlflow, experiment),
            run_name=f"{product}-{time.strftime('%Y%m%d-%H%M%S')}",
            tags={
                "product": product,
                "dataset_sha256": dataset_sha256,
                "mlflow.source.git.commit": git_revision(),
                "onnx_sha256": exported.sha256,
                "edge_sha256": (twin or exported).sha256,
                **(tags or {}),
            },
        )
        run_id = run.info.run_id
        all_params = {**params, "product": product, "dataset_sha256": dataset_sha256, "imgsz": exported.imgsz}
        mlflow.log_batch(
            run_id,
            metrics=_metrics(result),
            params=[Param(k, str(v)[:6000]) for k, v in sorted(all_params.items())],
            tags=[RunTag("class_names", json.dumps(list(exported.class_names)))],
        )
        with tempfile.TemporaryDirectory(prefix="fl-model-") as tmp:
            folder = Path(tmp) / MODEL_DIR
            folder.mkdir()
            shutil.copyfile(result.best_pt, folder / "model.pt")
            shutil.copyfile(exported.path, folder / "model.onnx")
            if twin is not None:
                shutil.copyfile(twin.path, folder / twin.path.name)
            (folder / "class_map.json").write_text(
                json.dumps(dict(enumerate(exported.class_names)), indent=1)
            )
            (folder / "manifest.json").write_text(json.dumps(dict(manifest), indent=1, sort_keys=True))
            mlflow.log_artifacts(run_id, str(folder), MODEL_DIR)
        mlflow.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError
        raise RegistryError(
            f"logging the training of {product} to MLflow at {tracking_uri} failed: {exc}"
        ) from exc
    base = mlflow.get_run(run_id).info.artifact_uri.rstrip("/")
    logger.info("logged run %s (%s)", run_id, base)
    return LoggedModel(
        run_id,
        f"{base}/{MODEL_DIR}",
        f"{base}/{MODEL_DIR}/model.onnx",
        exported.sha256,
        exported.class_names,
        exported.imgsz,
        twin.path.name if twin is not None else "model.onnx",
        (twin or exported).sha256,
        "int8" if twin is not None and twin.path.name.endswith(".int8.onnx") else "fp32",
    )
