"""``factoryloop model register``: the session's tiny model (trained elsewhere, as far as the product knows)
becomes a registered, gated version on the real MLflow server; weights of other classes, or of the right
classes in another order, are refused with what to do, and nothing is registered."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from factoryloop.sim.classes import DEFECT_CLASSES
from factoryloop.sim.render import Simulator
from tests.support.models import HELD_OUT_START, TINY_SIM
from training.datasets import Box, DatasetStore, Provenance
from training.model_cli import app
from training.registry import CHAMPION, ModelRegistry
from training.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
runner = CliRunner()


@pytest.fixture
def prefix(mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh registered-model prefix; the trainer's settings on the session's MLflow server."""
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    monkeypatch.setenv("FACTORYLOOP_TRAIN_MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("FACTORYLOOP_TRAIN_REGISTERED_MODEL_PREFIX", prefix)
    monkeypatch.setenv("FACTORYLOOP_TRAIN_EXPERIMENT", "test-model-register")
    monkeypatch.setenv("FACTORYLOOP_TRAIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("FACTORYLOOP_TRAIN_GOLDEN_FRACTION", "0.3")
    get_settings.cache_clear()
    yield prefix
    get_settings.cache_clear()


def _store(root: Path, product: str, classes: tuple[str, ...]) -> Path:
    """Held-out simulator frames as the product's labelled data (its class map: ``classes``)."""
    with DatasetStore(root) as store:
        store.products.create(product, classes)
        for frame in Simulator(TINY_SIM).frames(HELD_OUT_START, 16):
            digest = store.add_image(
                cv2.imencode(".jpg", frame.image)[1].tobytes(), source="sim", product=product
            )
            boxes = [Box(DEFECT_CLASSES[b.class_id], b.x1, b.y1, b.x2, b.y2) for b in frame.boxes]
            store.set_labels(digest, boxes, provenance=Provenance.SIMULATED, source_ref=f"sim:{frame.index}")
    return root


def test_weights_trained_elsewhere_become_the_champion(
    tiny: Any, prefix: str, mlflow_server: str, tmp_path: Path
) -> None:
    store = _store(tmp_path / "store", "plate", DEFECT_CLASSES)

    result = runner.invoke(app, ["register", str(tiny.pt), "--product", "plate", "--store", str(store)])

    assert result.exit_code == 0, result.output
    assert "not trained here" in result.output and "gate: PROMOTED" in result.output, result.output
    registry = ModelRegistry(mlflow_server, prefix)
    champion = registry.alias("plate", CHAMPION)
    assert champion is not None and champion.version == "1"
    assert (
        champion.class_names == DEFECT_CLASSES and champion.imgsz == tiny.imgsz
    )  # the size it was trained at
    run = MlflowClient(mlflow_server).get_run(champion.run_id)
    assert run.data.params["recipe"] == "brought" and run.data.params["model"] == str(tiny.pt)
    assert run.data.metrics["final_mAP50"] > 0.3  # measured on the product's validation split
    local = registry.download(champion, tmp_path / "download")
    assert (
        hashlib.sha256((local / "model.pt").read_bytes()).digest()
        == hashlib.sha256(tiny.pt.read_bytes()).digest()
    )


@pytest.mark.parametrize(
    ("classes", "said"),
    [
        (("open", "short"), "it lacks open, short; it has scratch"),
        (tuple(reversed(DEFECT_CLASSES)), "same classes in another order"),
    ],
    ids=["other-classes", "other-order"],
)
def test_weights_of_other_classes_are_refused(
    tiny: Any, prefix: str, mlflow_server: str, tmp_path: Path, classes: tuple[str, ...], said: str
) -> None:
    with DatasetStore(tmp_path / "store") as store:  # refused before its data is looked at: none needed
        store.products.create("pcb", classes)

    result = runner.invoke(
        app, ["register", str(tiny.pt), "--product", "pcb", "--store", str(tmp_path / "store")]
    )

    assert result.exit_code == 2
    assert said in result.output and "factoryloop retrain --base-model" in result.output, result.output
    assert ModelRegistry(mlflow_server, prefix).versions("pcb") == []
    assert not (tmp_path / "state" / "runs").exists()  # nothing frozen, exported or trained
