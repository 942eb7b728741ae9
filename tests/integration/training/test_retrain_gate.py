"""Retrain on the real MLflow server: run logged, version registered, aliases; a worse challenger refused."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from mlflow.tracking import MlflowClient

from factoryloop.sim.classes import DEFECT_CLASSES, ensure_simulated_product
from factoryloop.sim.render import Simulator
from tests.support.models import TINY_SIM
from training.datasets import Box, DatasetStore, Provenance
from training.errors import RetrainBusyError
from training.pipeline import retrain
from training.registry import CHALLENGER, CHAMPION, GatePolicy, ModelRegistry
from training.rollout.publish import deployment_for
from training.settings import TrainSettings
from training.triggers import retrain_lock
from training.yolo.export import sha256_file

PRODUCT = "steel_plate"


def _fill(store: DatasetStore, n: int) -> None:
    ensure_simulated_product(store.products, PRODUCT)
    for frame in Simulator(TINY_SIM).frames(0, n):
        digest = store.add_image(
            cv2.imencode(".jpg", frame.image)[1].tobytes(), source="sim", product=PRODUCT
        )
        boxes = [Box(DEFECT_CLASSES[b.class_id], b.x1, b.y1, b.x2, b.y2) for b in frame.boxes]
        store.set_labels(digest, boxes, provenance=Provenance.SIMULATED, source_ref=f"sim:{frame.index}")


@pytest.mark.slow
def test_retrain_register_gate(mlflow_server: str, tmp_path: Path) -> None:
    settings = TrainSettings(
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_server,
        imgsz=96,
        batch=8,
        golden_fraction=0.3,
        experiment="test-retrain",
    )
    with DatasetStore(tmp_path / "store") as store:
        _fill(store, 24)
        first = retrain(PRODUCT, store, settings, reason="first", epochs=2, policy=GatePolicy(min_score=-1.0))
        assert first.decision is not None and first.decision.promote
        registry = ModelRegistry(mlflow_server, settings.registered_model_prefix)
        champion = registry.alias(PRODUCT, CHAMPION)
        assert champion is not None and champion.version == first.version.version

        # A deliberately worse challenger: it never learns (lr 0), so it cannot beat the champion by a margin.
        worse = retrain(
            PRODUCT,
            store,
            settings,
            reason="worse",
            epochs=1,
            lr0=0.0,
            lrf=0.0,
            warmup_epochs=0,
            policy=GatePolicy(margin=0.01),
        )
        assert worse.decision is not None and not worse.decision.promote
        assert registry.alias(PRODUCT, CHAMPION).version == first.version.version  # type: ignore[union-attr]
        assert registry.alias(PRODUCT, CHALLENGER).version == worse.version.version  # type: ignore[union-attr]
        tags = registry.get(PRODUCT, worse.version.version).tags
        assert tags["gate.decision"] == "refuse" and "gate.champion.mAP50-95" in tags
        assert tags["gate.champion_version"] == first.version.version

        # The run holds params, dataset hash, per-epoch and final metrics, the artifacts and the git revision.
        run = MlflowClient(mlflow_server).get_run(first.version.run_id)
        assert run.data.tags["dataset_sha256"] == first.dataset_sha256
        assert run.data.tags["mlflow.source.git.commit"]
        assert run.data.params["epochs"] == "2" and "final_mAP50_95" in run.data.metrics
        losses = MlflowClient(mlflow_server).get_metric_history(first.version.run_id, "train_box_loss")
        assert [m.step for m in losses] == [1, 2]
        # the cpu_fast recipe validates once, after the last epoch (val=False): one mAP point, no stale zeros
        history = MlflowClient(mlflow_server).get_metric_history(first.version.run_id, "mAP50_95")
        assert [m.step for m in history] == [2] and run.data.params["recipe"] == "cpu_fast"
        files = {a.path for a in MlflowClient(mlflow_server).list_artifacts(first.version.run_id, "model")}
        shipped = first.version.tags["int8.decision"] == "ship"
        assert first.version.tags["int8.decision"] in {"ship", "refuse"}, first.version.tags["int8.reason"]
        names = ("model.pt", "model.onnx", "class_map.json", "manifest.json") + ("model.int8.onnx",) * shipped
        assert files == {f"model/{n}" for n in names}
        assert first.version.sha256 == run.data.tags["onnx_sha256"]
        # The deployment ships the edge file (the INT8 twin when its check passed), bound by its sha256.
        dep = deployment_for(first.version)
        edge_file = "model.int8.onnx" if shipped else "model.onnx"
        assert dep.artifact_uri == f"{first.version.source.rstrip('/')}/{edge_file}"
        assert dep.precision == ("int8" if shipped else "fp32")
        local = registry.download(first.version, tmp_path / "download")
        assert dep.sha256 == sha256_file(local / edge_file) == first.version.edge_sha256
        assert {"int8.check.fp32.mAP50-95", "int8.check.int8.mAP50-95"} <= set(first.version.tags)

        with retrain_lock(settings.state_dir, PRODUCT), pytest.raises(RetrainBusyError):
            retrain(PRODUCT, store, settings, epochs=1)
