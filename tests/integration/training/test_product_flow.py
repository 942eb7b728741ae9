"""A plant's own product, end to end through the CLI and the real MLflow and Kafka: a YOLO polygon set and a
COCO segmentation-only set made here are imported into a product whose classes are not the simulator's; the
product is retrained; its registered model, ONNX metadata, deployment and an agent's outcomes carry the
product's class names. Class-map conflicts, a rename onto an existing name and a 2-point polygon are refused
with clear errors and change nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings
from factoryloop.products import ProductCatalog
from factoryloop.schemas import Outcome
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, read_topic
from training.datasets import DatasetStore
from training.pipeline import retrain
from training.registry import GatePolicy
from training.rollout import deployment_for
from training.settings import TrainSettings

pytestmark = pytest.mark.slow

PRODUCT = "pcb"
CLASSES = ("open", "short", "spur")  # none of them a simulator class


def _shape(rng: np.random.Generator, cls: int, size: int) -> np.ndarray:
    """Polygon (pixels) of a defect: 0 a rectangle, 1 a 12-gon (round), 2 a triangle."""
    cx, cy = rng.uniform(0.3, 0.7, 2) * size
    r = rng.uniform(0.12, 0.2) * size
    if cls == 0:
        pts = [(cx - r, cy - r / 2), (cx + r, cy - r / 2), (cx + r, cy + r / 2), (cx - r, cy + r / 2)]
    elif cls == 1:
        pts = [
            (cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)
        ]
    else:
        pts = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    return np.array(pts, dtype=np.float64)


def _image(rng: np.random.Generator, cls: int, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    img = rng.normal(128, 6, (size, size, 3)).clip(0, 255).astype(np.uint8)
    poly = _shape(rng, cls, size)
    cv2.fillPoly(img, [poly.round().astype(np.int32)], (30, 30, 30) if cls != 1 else (230, 230, 230))
    return img, poly


def make_yolo_polygons(root: Path, per_class: int = 10, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for n in range(per_class * len(CLASSES)):
        cls, split = n % len(CLASSES), ("val" if n % 5 == 0 else "train")
        img, poly = _image(rng, cls)
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "images" / split / f"b{n}.jpg"), img)
        coords = " ".join(f"{v / 96:.5f}" for xy in poly for v in xy)
        (root / "labels" / split / f"b{n}.txt").write_text(f"{cls} {coords}\n")
    names = "\n".join(f"  {i}: {c}" for i, c in enumerate(CLASSES))
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n")


def make_coco_segmentation(root: Path, categories: dict[int, str], n: int = 9, seed: int = 1) -> Path:
    """COCO with segmentation polygons only (no bbox), category ids not contiguous."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    ids = sorted(categories)
    images, anns = [], []
    for i in range(n):
        cat = ids[i % len(ids)]
        img, poly = _image(rng, i % 3)
        cv2.imwrite(str(root / "images" / f"c{i}.jpg"), img)
        images.append({"id": i + 1, "file_name": f"c{i}.jpg", "width": 96, "height": 96})
        anns.append(
            {"id": i + 1, "image_id": i + 1, "category_id": cat, "segmentation": [poly.ravel().tolist()]}
        )
    doc = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": k, "name": v} for k, v in categories.items()],
    }
    (root / "instances.json").write_text(json.dumps(doc))
    return root


def cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACTORYLOOP_DATASETS": str(store), "COLUMNS": "200"}
    return subprocess.run(["factoryloop", *args], env=env, capture_output=True, text=True, timeout=120)


def _state(store: Path) -> tuple[int, bytes]:
    with DatasetStore(store) as ds:
        count = len(ds.images())
    return count, (store / "products" / f"{PRODUCT}.json").read_bytes()


def test_a_plants_product_from_its_labelled_data_to_an_agent(
    tmp_path: Path, mlflow_server: str, kafka_settings: KafkaSettings
) -> None:
    store = tmp_path / "store"
    make_yolo_polygons(tmp_path / "yolo")
    done = cli(store, "dataset", "import", str(tmp_path / "yolo"), "--format", "yolo", "--product", PRODUCT)
    assert done.returncode == 0, done.stderr
    assert "product pcb: created its class map (open, short, spur); 6 images (20%) held out" in done.stdout
    assert ProductCatalog(store / "products").get(PRODUCT).class_names == CLASSES

    coco = make_coco_segmentation(tmp_path / "coco", {3: "Open", 7: "Short", 9: "copper"})
    before = _state(store)
    refused = cli(store, "dataset", "import", str(coco), "--format", "coco", "--product", PRODUCT)
    assert refused.returncode == 1
    message = " ".join(refused.stderr.split())
    assert "dataset classes Open, Short, copper are not classes of product pcb" in message
    assert "--map DATASET_CLASS=PRODUCT_CLASS" in message and "--add-classes" in message
    assert _state(store) == before  # nothing imported, the class map unchanged
    added = cli(
        store, "dataset", "import", str(coco), "--format", "coco", "--product", PRODUCT,
        "--map", "Open=open", "--map", "Short=short", "--add-classes",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added copper to its class map (open, short, spur, copper)" in " ".join(added.stdout.split())

    # Refusals that change nothing: a rename onto an existing class, a polygon of two points.
    before = _state(store)
    rename = cli(store, "product", "rename-class", PRODUCT, "spur", "open")
    assert rename.returncode == 2 and "'open' is already a class of product pcb" in rename.stderr
    bad = make_coco_segmentation(tmp_path / "bad", {1: "open"}, n=3)
    doc = json.loads((bad / "instances.json").read_text())
    doc["annotations"][1]["segmentation"] = [[10.0, 10.0, 50.0, 50.0]]
    (bad / "instances.json").write_text(json.dumps(doc))
    two = cli(store, "dataset", "import", str(bad), "--format", "coco", "--product", PRODUCT)
    assert two.returncode == 1, two.stdout
    assert "annotation #1 polygon 0: polygon needs at least 3 points, got 2" in " ".join(two.stderr.split())
    assert _state(store) == before

    settings = TrainSettings(
        state_dir=tmp_path / "state",
        mlflow_tracking_uri=mlflow_server,
        imgsz=96,
        batch=8,
        golden_fraction=0.2,
        experiment="test-product",
        edge_int8=False,
    )
    with DatasetStore(store) as ds:
        product = ds.products.get(PRODUCT)
        out = retrain(PRODUCT, ds, settings, reason="first", epochs=2, policy=GatePolicy(min_score=-1.0))
    names = ("open", "short", "spur", "copper")
    assert product.class_names == names
    version = out.version
    assert version.class_names == names and version.tags["product"] == PRODUCT
    assert out.decision is not None and out.decision.promote
    model = next((settings.state_dir / "runs" / PRODUCT).glob("*/model.onnx"))
    meta = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert meta["product"] == PRODUCT and all(repr(n) in meta["names"] for n in names)
    deployment = deployment_for(version)
    assert deployment.product == PRODUCT and deployment.class_names == names

    frames = tmp_path / "yolo" / "images" / "val"
    cfg = agent_config(
        kafka_settings,
        model,
        tmp_path,
        product=PRODUCT,
        source={"type": "folder", "path": str(frames), "fps": 0, "max_frames": 6},
        detector={"conf": 0.0, "max_det": 20},  # a 2-epoch model: every candidate
        rules={"default": {"confidence": 0.5, "uncertain": 0.0}, "classes": {"spur": {"confidence": 0.3}}},
    )
    agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "agent"))
    agent.start()
    try:
        assert agent.wait(60)
    finally:
        agent.close()
    outcomes = [o for o in read_topic(kafka_settings, TopicRole.OUTCOMES, until=6) if isinstance(o, Outcome)]
    assert len(outcomes) == 6 and {o.product for o in outcomes} == {PRODUCT}
    seen = {d.class_name for o in outcomes for d in o.detections}
    assert seen and seen <= set(names)
