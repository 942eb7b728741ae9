"""``factoryloop model evaluate|predict`` on the session's tiny model: a local ONNX on a labelled folder, and
a registered version (on the real MLflow server) on the product's golden set, logged as an MLflow run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from factoryloop.sim.classes import DEFECT_CLASSES
from factoryloop.sim.render import Simulator
from tests.support.models import HELD_OUT_START, TINY_SIM, write_sim_dataset
from training.datasets import Box, DatasetStore, Provenance
from training.model_cli import app
from training.registry import CHAMPION, ModelRegistry, ensure_golden, log_training
from training.settings import get_settings
from training.yolo.export import ExportedModel
from training.yolo.train import ClassMetrics, TrainResult

VAL_IMAGES = 8
runner = CliRunner()


def _invoke(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A YOLO folder of held-out simulator frames (all in val)."""
    root = tmp_path_factory.mktemp("labelled")
    write_sim_dataset(root, range(0), range(HELD_OUT_START, HELD_OUT_START + VAL_IMAGES))
    return root


def _check_document(doc: dict[str, Any], names: tuple[str, ...], images: int) -> None:
    assert doc["schema"] == "factoryloop.evaluation/1"
    assert doc["model"]["class_names"] == list(names) and len(doc["model"]["sha256"]) == 64
    assert doc["data"]["images"] == doc["overall"]["images"] == images
    for key in ("precision", "recall", "mAP50", "mAP50-95"):
        assert 0.0 <= doc["overall"][key] <= 1.0
    assert [c["name"] for c in doc["classes"]] == list(names)
    for row in doc["classes"]:
        assert row["instances"] >= row["images"] >= 0
        for key in ("precision", "recall", "ap50", "ap50_95"):
            assert row[key] is None if not row["instances"] else 0.0 <= row[key] <= 1.0
    assert sum(c["instances"] for c in doc["classes"]) == doc["overall"]["instances"] > 0
    cm = doc["confusion_matrix"]
    assert cm["labels"] == [*names, "background"] and (cm["rows"], cm["columns"]) == ("true", "predicted")
    assert len(cm["matrix"]) == len(names) + 1 and all(len(r) == len(names) + 1 for r in cm["matrix"])
    # every true box is in its class's row: paired with a prediction, or missed (background column)
    assert [sum(r) for r in cm["matrix"][:-1]] == [c["instances"] for c in doc["classes"]]


@pytest.mark.slow
def test_local_onnx_evaluate_and_predict(tiny: Any, labelled: Path, tmp_path: Path) -> None:
    result = _invoke("evaluate", "--onnx", tiny.onnx, "--path", labelled, "--format", "yolo", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout is the document and nothing else
    _check_document(doc, tiny.class_names, VAL_IMAGES)
    assert doc["model"]["version"] is None and doc["mlflow_run_id"] is None
    assert doc["data"]["kind"] == "path" and doc["data"]["format"] == "yolo"
    assert doc["overall"]["mAP50"] > 0.1  # the tiny model finds defects on held-out frames

    table = _invoke("evaluate", "--onnx", tiny.onnx, "--path", labelled, "-f", "yolo", "--conf", "0.01")
    assert table.exit_code == 0, table.stderr
    assert "Detection metrics" in table.stdout and "Confusion matrix" in table.stdout
    assert "scratch" in table.stdout

    # predict: one annotated .jpg and one .json per image; a corrupt image is reported, counted, skipped
    images = labelled / "images" / "val"
    folder = tmp_path / "frames"
    shutil.copytree(images, folder / "cam1")
    (folder / "cam1" / "broken.jpg").write_bytes(next(images.glob("*.jpg")).read_bytes()[:500])
    out = tmp_path / "out"
    predicted = _invoke("predict", folder, "--onnx", tiny.onnx, "--out", out)
    assert predicted.exit_code == 0, predicted.stderr
    jpgs, docs = sorted(out.rglob("*.jpg")), sorted(out.rglob("*.json"))
    assert len(jpgs) == len(docs) == VAL_IMAGES
    assert {p.relative_to(out).with_suffix("").as_posix() for p in docs} == {
        f"cam1/{p.stem}" for p in images.glob("*.jpg")
    }
    first = json.loads(docs[0].read_text())
    assert first["image"].startswith("cam1/") and first["model"]["sha256"] == tiny.sha256
    for det in first["detections"]:
        assert set(det) == {"class_id", "class_name", "confidence", "box"} and det["confidence"] >= 0.25
        assert det["class_name"] == tiny.class_names[det["class_id"]]
    assert f"{VAL_IMAGES} images, 1 skipped" in predicted.stdout and "ms per image" in predicted.stdout
    assert "broken.jpg" in predicted.stderr


@pytest.mark.slow
def test_errors_say_what_to_do(tiny: Any, labelled: Path, tmp_path: Path) -> None:
    unknown = _invoke("evaluate", "--onnx", tiny.onnx, "--path", labelled, "--format", "pascal")
    assert unknown.exit_code == 2 and "error: unknown dataset format 'pascal'" in unknown.stderr

    empty = _invoke("predict", tmp_path, "--onnx", tiny.onnx, "--out", tmp_path / "out")
    assert empty.exit_code == 2 and "error: no image in" in empty.stderr

    missing = _invoke("evaluate", "--onnx", tmp_path / "nope.onnx", "--path", labelled, "-f", "yolo")
    assert missing.exit_code == 2 and "no such ONNX file" in missing.stderr

    no_version = _invoke("evaluate", "--onnx", tiny.onnx, "--data", "nope", "--store", tmp_path / "store")
    assert no_version.exit_code == 2 and "`factoryloop dataset list --root" in no_version.stderr

    # a class the model lacks: named, unless its boxes are dropped on purpose
    renamed = tmp_path / "renamed"
    shutil.copytree(labelled, renamed)
    data_yaml = renamed / "data.yaml"
    data_yaml.write_text(
        data_yaml.read_text().replace("scratch", "rust [new]").replace(str(labelled), str(renamed))
    )
    refused = _invoke("evaluate", "--onnx", tiny.onnx, "--path", renamed, "-f", "yolo")
    assert refused.exit_code == 2 and "'rust [new]'" in refused.stderr
    assert "--ignore-unknown-classes" in refused.stderr
    dropped = _invoke(
        "evaluate", "--onnx", tiny.onnx, "--path", renamed, "-f", "yolo", "--ignore-unknown-classes", "--json"
    )
    assert dropped.exit_code == 0, dropped.stderr
    assert json.loads(dropped.stdout)["data"]["dropped_boxes"]["rust [new]"] > 0


PRODUCT = "evalplate"


@pytest.fixture
def registered(
    tiny: Any, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The tiny model registered as version 1 (champion) of a fresh registered model; a golden set in a store
    under tmp_path/store. Yields the registered model prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    monkeypatch.setenv("FACTORYLOOP_TRAIN_MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("FACTORYLOOP_TRAIN_REGISTERED_MODEL_PREFIX", prefix)
    monkeypatch.setenv("FACTORYLOOP_TRAIN_EXPERIMENT", "test-model-cli")
    get_settings.cache_clear()
    train = TrainResult(
        tiny.pt, tmp_path, tiny.class_names, {"mAP50": 0.5}, {"scratch": ClassMetrics(1, 1, 1, 1)}
    )
    exported = ExportedModel(tiny.onnx, tiny.sha256, tiny.class_names, tiny.imgsz)
    logged = log_training(
        mlflow_server,
        "test-model-cli",
        product=PRODUCT,
        dataset_sha256="0" * 64,
        params={},
        result=train,
        exported=exported,
        manifest={},
    )
    registry = ModelRegistry(mlflow_server, prefix)
    first = registry.register(PRODUCT, logged)
    registry.set_alias(PRODUCT, CHAMPION, first.version)
    registry.register(PRODUCT, replace(logged, sha256="f" * 64, edge_sha256="f" * 64))  # v2: "tampered"
    with DatasetStore(tmp_path / "store") as store:
        for frame in Simulator(TINY_SIM).frames(HELD_OUT_START, 12):
            digest = store.add_image(
                cv2.imencode(".jpg", frame.image)[1].tobytes(), source="sim", product=PRODUCT
            )
            boxes = [Box(DEFECT_CLASSES[b.class_id], b.x1, b.y1, b.x2, b.y2) for b in frame.boxes]
            store.set_labels(digest, boxes, provenance=Provenance.SIMULATED, source_ref=f"sim:{frame.index}")
        ensure_golden(store, store.products.create(PRODUCT, DEFECT_CLASSES), 0.5)
    yield prefix
    get_settings.cache_clear()


@pytest.mark.slow
@pytest.mark.mlflow
def test_registered_version_on_the_golden_set(
    tiny: Any, registered: str, mlflow_server: str, labelled: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    result = _invoke("evaluate", "--product", PRODUCT, "--store", store, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    _check_document(doc, tiny.class_names, doc["data"]["images"])
    assert doc["model"]["name"] == f"{registered}{PRODUCT}" and doc["model"]["version"] == "1"
    assert doc["data"]["kind"] == "golden" and doc["data"]["ref"] == f"golden-{PRODUCT}"

    run = MlflowClient(mlflow_server).get_run(doc["mlflow_run_id"])
    assert run.data.tags["factoryloop.kind"] == "evaluation" and run.data.tags["model_version"] == "1"
    assert run.data.tags["data_ref"] == f"golden-{PRODUCT}" and run.data.tags["product"] == PRODUCT
    assert run.data.metrics["eval_mAP50"] == pytest.approx(doc["overall"]["mAP50"])
    assert "evaluation.json" in {a.path for a in MlflowClient(mlflow_server).list_artifacts(run.info.run_id)}

    out = tmp_path / "out"
    predicted = _invoke("predict", labelled / "images", "--product", PRODUCT, "--out", out)
    assert predicted.exit_code == 0, predicted.stderr
    assert json.loads(next(out.rglob("*.json")).read_text())["model"]["version"] == "1"

    tampered = _invoke("evaluate", "--product", PRODUCT, "--version", "2", "--store", store)
    assert tampered.exit_code == 2 and "registry recorded ffffffffffffffff" in tampered.stderr
    missing = _invoke("evaluate", "--product", PRODUCT, "--version", "99", "--store", store)
    assert missing.exit_code == 2 and "cannot read version 99" in missing.stderr
    no_alias = _invoke("evaluate", "--product", PRODUCT, "--alias", "nope", "--store", store)
    assert no_alias.exit_code == 2 and "no version with alias 'nope'" in no_alias.stderr
    no_golden = _invoke("evaluate", "--product", PRODUCT, "--store", tmp_path / "empty-store")
    assert no_golden.exit_code == 2 and "has no golden set" in no_golden.stderr


def test_the_group_is_registered() -> None:
    """``factoryloop model --help`` lists both commands (the group is in factoryloop.cli's _GROUPS)."""
    code = (
        "import sys; sys.argv = ['factoryloop', 'model', '--help']; from factoryloop.cli import main; main()"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env)
    assert out.returncode == 0, out.stderr
    assert "evaluate" in out.stdout and "predict" in out.stdout
