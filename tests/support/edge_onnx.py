"""Synthetic YOLO-shaped ONNX models for the edge agent's tests: fixed detections, real onnxruntime.

Built with the ``onnx`` package (training extra); tests that need it ``importorskip("onnx")``.
The output is a constant (plus 0 * mean(input), so the input is really consumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

CLASS_NAMES = ("scratch", "dent", "stain", "crack", "missing_hole")


def yolo_output(
    boxes: Sequence[tuple[float, float, float, float, int, float]], nc: int, n: int = 64
) -> np.ndarray:
    """(1, 4+nc, n) with the given (cx, cy, w, h, class, score) (letterboxed px); others score 0."""
    out = np.zeros((1, 4 + nc, n), np.float32)
    out[0, :4, :] = 10.0
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + cls, i] = score
    return out


def e2e_output(boxes: Sequence[tuple[float, float, float, float, float, int]], n: int = 32) -> np.ndarray:
    """(1, n, 6): x1, y1, x2, y2, score, class."""
    out = np.zeros((1, n, 6), np.float32)
    for i, b in enumerate(boxes):
        out[0, i] = b
    return out


def write_constant_model(
    path: Path,
    output: np.ndarray,
    *,
    imgsz: int = 160,
    class_names: Sequence[str] | None = CLASS_NAMES,
    dynamic: bool = False,
) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dims: list[int | str] = [1, 3, "h", "w"] if dynamic else [1, 3, imgsz, imgsz]
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["zeroed"]),
        helper.make_node("Add", ["const", "zeroed"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(output.astype(np.float32), "const"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    graph = helper.make_graph(nodes, "synthetic_yolo", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"imgsz": f"[{imgsz}, {imgsz}]", "stride": "32", "task": "detect"}
    if class_names is not None:
        meta["names"] = repr(dict(enumerate(class_names)))
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def fail_model(path: Path, imgsz: int = 160, score: float = 0.9) -> Path:
    """Every frame: one 'dent' box in the middle of the input with ``score``."""
    c = imgsz / 2
    return write_constant_model(path, yolo_output([(c, c, imgsz / 4, imgsz / 4, 1, score)], 5), imgsz=imgsz)


def pass_model(path: Path, imgsz: int = 160) -> Path:
    """Every frame: nothing detected."""
    return write_constant_model(path, yolo_output([], 5), imgsz=imgsz)
