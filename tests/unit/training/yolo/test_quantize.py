"""INT8 export: which head nodes stay fp32, the calibration draw, and the ship/refuse rule."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from training.errors import ModelBuildError
from training.yolo.evaluate import EvalResult
from training.yolo.quantize import calibration_images, judge_int8, nodes_kept_fp32
from training.yolo.train import ClassMetrics


def _graph(names: list[str]) -> onnx.ModelProto:
    """A chain of nodes with these names (Conv where the name ends so, else Identity); the last one produces
    the graph output. Not runnable: only the names, ops and wiring matter here."""
    nodes, prev = [], "images"
    for i, name in enumerate(names):
        out = "output0" if i == len(names) - 1 else f"t{i}"
        nodes.append(
            helper.make_node("Conv" if name.endswith("Conv") else "Identity", [prev], [out], name=name)
        )
        prev = out
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "g", [vi("images", TensorProto.FLOAT, [1])], [vi("output0", TensorProto.FLOAT, [1])]
    )
    return helper.make_model(graph)


def test_first_conv_and_head_decode_stay_fp32() -> None:
    names = [
        "/model.0/conv/Conv",
        "/model.1/conv/Conv",
        "/model.23/cv2.0/cv2.0.0/conv/Conv",
        "/model.23/cv3.2/cv3.2.1/cv3.2.1.1/act/Mul",
        "/model.23/cv2.2/cv2.2.2/Conv",
        "/model.23/dfl/Softmax",
        "/model.23/Sigmoid",
        "/model.23/Concat_3",
    ]
    assert nodes_kept_fp32(_graph(names)) == [
        "/model.0/conv/Conv",
        "/model.23/dfl/Softmax",
        "/model.23/Sigmoid",
        "/model.23/Concat_3",
    ]


def test_a_graph_without_an_ultralytics_head_is_refused() -> None:
    with pytest.raises(ModelBuildError, match="detection head"):
        nodes_kept_fp32(_graph(["conv1", "head"]))


def test_calibration_images_spread_over_the_folder(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"{i:02d}.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in calibration_images(tmp_path, 5)] == [f"{i:02d}.jpg" for i in (0, 2, 4, 6, 8)]
    assert len(calibration_images(tmp_path, 64)) == 10  # fewer images than asked: all of them
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelBuildError, match="no calibration images"):
        calibration_images(empty, 4)


def _eval(score: float, **ap50: float) -> EvalResult:
    per_class = {name: ClassMetrics(0.5, 0.5, ap, 0.3) for name, ap in ap50.items()}
    return EvalResult({"precision": 0.5, "recall": 0.5, "mAP50": score + 0.2, "mAP50-95": score}, per_class)


@pytest.mark.parametrize(
    ("fp32", "int8", "ships", "reason_part"),
    [
        (_eval(0.50, dent=0.8), _eval(0.49, dent=0.8), True, "within 0.02"),
        (_eval(0.50, dent=0.8), _eval(0.52, dent=0.8), True, "within 0.02"),  # better is fine
        (_eval(0.50, dent=0.8), _eval(0.47, dent=0.8), False, "drop 0.0300 > 0.02"),
        (_eval(0.50, dent=0.8, crack=0.7), _eval(0.50, dent=0.8, crack=0.6), False, "crack -0.100"),
        (_eval(0.50, dent=0.8, crack=0.7), _eval(0.50, dent=0.8), False, "crack -0.700"),  # class lost
        (_eval(0.50, dent=0.8), _eval(0.50, dent=0.76), True, "within"),  # a drop within the limit
    ],
)
def test_judge_int8(fp32: EvalResult, int8: EvalResult, ships: bool, reason_part: str) -> None:
    check = judge_int8(fp32, int8, max_drop=0.02, max_class_drop=0.05)
    assert check.accepted is ships and reason_part in check.reason
    tags = check.as_tags()
    assert tags["int8.decision"] == ("ship" if ships else "refuse")
    assert tags["int8.check.int8.mAP50-95"] == f"{int8.metrics['mAP50-95']:.4f}"
