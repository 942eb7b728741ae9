"""The INT8 export of the trained tiny model: as good as fp32 on held-out frames, and the agent runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import onnx
import pytest

from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from factoryloop.sim.render import Simulator
from tests.support.models import HELD_OUT_START, TINY_SIM, write_sim_dataset
from training.yolo.export import ExportedModel
from training.yolo.quantize import INT8_FILE, check_int8, edge_export, quantize_int8


@pytest.fixture(scope="module")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml: 64 training frames (calibration) and 96 held-out frames (the check)."""
    root = tmp_path_factory.mktemp("int8-data")
    return write_sim_dataset(root, range(64), range(HELD_OUT_START, HELD_OUT_START + 96))


def _iou(a: Any, b: Any) -> float:
    iw = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    ih = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = iw * ih
    return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter)


@pytest.mark.slow
def test_int8_twin_is_checked_shipped_and_served(tiny: Any, heldout: Path, tmp_path: Path) -> None:
    fp32 = ExportedModel(tiny.onnx, tiny.sha256, tiny.class_names, tiny.imgsz)
    train = sorted((heldout.parent / "images" / "train").glob("*.jpg"))
    int8 = quantize_int8(fp32, train, tmp_path / INT8_FILE)
    assert int8.sha256 != fp32.sha256 and int8.class_names == fp32.class_names
    meta = {p.key: p.value for p in onnx.load(str(int8.path)).metadata_props}
    assert (
        meta["precision"] == "int8"
        and meta["names"] == {p.key: p.value for p in onnx.load(str(fp32.path)).metadata_props}["names"]
    )
    ops = {n.op_type for n in onnx.load(str(int8.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops

    check = check_int8(fp32.path, int8.path, heldout, tiny.imgsz, max_drop=0.02)
    assert check.accepted, check.reason
    assert abs(check.fp32.metrics["mAP50-95"] - check.int8.metrics["mAP50-95"]) <= 0.02
    assert check.fp32.metrics["mAP50-95"] > 0.3  # a model that detects something: the check means something

    # The agent's own detector loads it (names from the carried metadata) and finds the same defects.
    ours = OnnxDetector(int8.path, DetectorOptions(threads=1))
    ref = OnnxDetector(fp32.path, DetectorOptions(threads=1))
    assert ours.class_names == tiny.class_names
    sim, confident, matched = Simulator(TINY_SIM), 0, 0
    for frame in sim.frames(HELD_OUT_START + 200, 24):
        mine = ours.detect(frame.image)
        for d in ref.detect(frame.image):
            if d.confidence < 0.5:
                continue
            confident += 1
            same = [m for m in mine if m.class_id == d.class_id and _iou(m.box, d.box) >= 0.8]
            matched += bool(same) and abs(max(m.confidence for m in same) - d.confidence) <= 0.1
    assert confident >= 20 and matched / confident >= 0.9, (matched, confident)

    # What training calls: a refusal (an impossible bar) leaves the edge on fp32, with the reason as tags.
    edge, tags = edge_export(fp32, heldout.parent / "images" / "train", heldout, max_drop=-1.0)
    assert edge == fp32 and tags["int8.decision"] == "refuse" and "drop" in tags["int8.reason"]


def test_a_corrupt_onnx_file_is_refused_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    image = tmp_path / "a.jpg"
    cv2.imwrite(str(image), Simulator(TINY_SIM).frame(0).image)
    edge, tags = edge_export(ExportedModel(bad, "0" * 64, ("dent",), 96), tmp_path, tmp_path / "data.yaml")
    assert edge.path == bad and tags["int8.decision"] == "failed" and str(bad) in tags["int8.reason"]
