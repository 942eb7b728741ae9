"""INT8 export for the edge: static QDQ quantisation of the fp32 ONNX, calibrated on training images.

A line PC's CPU runs an INT8 model about 1.5x faster than fp32 (bench/bench_int8.py). It is a different
numerical model, so it ships only when :func:`check_int8` finds it as good as the fp32 export on held-out
images (the same evaluator as the gate). Quantised: every convolution but the first, the detection head's
included. Kept fp32: the first convolution (it reads the 0-1 pixels; on the demo's fine-tuned model
quantising it cost recall: golden scratch recall 0.47 instead of 0.71), and the head's decode (DFL softmax,
box arithmetic, score sigmoid, and the final concatenation of boxes in pixels with scores in 0-1, which one
uint8 scale would round to steps of 1.25; a quantised DFL moved boxes by up to 4 px). Speed on the yolo11n
bench model, one thread: fp32 13.8-14.2 ms, this 9.1 ms, everything quantised 8.2 ms.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from training.errors import ModelBuildError
from training.yolo.evaluate import EvalResult, evaluate
from training.yolo.export import ExportedModel, sha256_file
from training.yolo.onnx_ref import letterbox

logger = logging.getLogger(__name__)

INT8_FILE = "model.int8.onnx"
PRECISION_KEY = "precision"  # ONNX metadata: "int8" on a quantised export (absent on fp32 ones)
_HEAD_CONV = re.compile(r"/cv[23]\.\d+/")


@dataclass(frozen=True)
class Int8Check:
    accepted: bool
    reason: str
    fp32: EvalResult
    int8: EvalResult

    def as_tags(self) -> dict[str, str]:
        tags = {"int8.decision": "ship" if self.accepted else "refuse", "int8.reason": self.reason[:4000]}
        tags.update(self.fp32.as_tags("int8.check.fp32"))
        tags.update(self.int8.as_tags("int8.check.int8"))
        return tags


def nodes_kept_fp32(model: object) -> list[str]:
    """Names of the nodes that stay fp32 (see the module doc): the first convolution and the head's decode.

    The first convolution is the one that reads the graph input. The head is the layer whose nodes produce
    the graph's output (``/model.<N>/...`` in an Ultralytics export); its convolution branches (``cv2.k``
    boxes, ``cv3.k`` classes) are quantised, the rest is not.
    """
    graph = model.graph  # type: ignore[attr-defined]
    outputs = {o.name for o in graph.output}
    last = next((n for n in graph.node if outputs & set(n.output)), None)
    match = re.match(r"(/model\.\d+/)", last.name if last is not None else "")
    if match is None:
        raise ModelBuildError(
            "cannot find the detection head of this ONNX graph (expected an Ultralytics export whose output "
            "node is named /model.<N>/...): quantise only models exported by training.yolo.export"
        )
    prefix = match.group(1)
    inputs = {i.name for i in graph.input}
    first = [n.name for n in graph.node if n.op_type == "Conv" and inputs & set(n.input)]
    return first + [n.name for n in graph.node if n.name.startswith(prefix) and not _HEAD_CONV.search(n.name)]


class _Calibration:
    """onnxruntime's CalibrationDataReader over letterboxed BGR images (read one at a time)."""

    def __init__(self, input_name: str, paths: Sequence[Path], imgsz: int) -> None:
        self._input, self._paths, self._imgsz = input_name, iter(paths), imgsz

    def get_next(self) -> dict[str, np.ndarray] | None:
        for path in self._paths:
            image = cv2.imread(str(path))
            if image is not None:
                return {self._input: letterbox(image, self._imgsz)[0]}
            logger.warning("calibration: cannot read %s, skipped", path)
        return None


def calibration_images(folder: Path, count: int) -> list[Path]:
    """``count`` images spread evenly over ``folder``'s sorted file names (deterministic)."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        raise ModelBuildError(f"no calibration images in {folder}: INT8 export needs training images")
    step = max(len(files) / count, 1.0)
    return [files[int(i * step)] for i in range(min(count, len(files)))]


def quantize_int8(fp32: ExportedModel, images: Iterable[Path], out_path: Path) -> ExportedModel:
    """Write the INT8 (QDQ: uint8 activations, int8 per-channel weights) twin of ``fp32`` to ``out_path``.

    The fp32 file's metadata (class names, imgsz, stride) is carried over and ``precision: int8`` added.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out_path = Path(out_path)
    try:
        source = onnx.load(str(fp32.path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ...
        raise ModelBuildError(f"{fp32.path} is not a readable ONNX model ({exc}): export it again") from exc
    keep_fp32 = nodes_kept_fp32(source)
    with tempfile.TemporaryDirectory(prefix="fl-int8-") as tmp:
        pre, raw = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        try:
            quant_pre_process(str(fp32.path), str(pre))
            quantize_static(
                str(pre),
                str(raw),
                _Calibration(source.graph.input[0].name, list(images), fp32.imgsz),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=keep_fp32,
            )
        except Exception as exc:  # onnxruntime.quantization raises many types
            raise ModelBuildError(f"INT8 quantisation of {fp32.path} failed: {exc}") from exc
        model = onnx.load(str(raw))
        del model.metadata_props[:]
        for prop in source.metadata_props:
            if prop.key != PRECISION_KEY:
                model.metadata_props.add(key=prop.key, value=prop.value)
        model.metadata_props.add(key=PRECISION_KEY, value="int8")
        tmp_out = out_path.with_name(out_path.name + ".tmp")
        onnx.save(model, str(tmp_out))
        tmp_out.replace(out_path)
    exported = ExportedModel(out_path, sha256_file(out_path), fp32.class_names, fp32.imgsz)
    logger.info("INT8 export %s -> %s (sha256 %s)", fp32.path, out_path, exported.sha256[:12])
    return exported


def judge_int8(
    fp32: EvalResult,
    int8: EvalResult,
    *,
    max_drop: float = 0.02,
    max_class_drop: float = 0.05,
    metric: str = "mAP50-95",
) -> Int8Check:
    """Ship INT8 only if ``metric`` is at most ``max_drop`` below fp32's and no class's AP50 is more than
    ``max_class_drop`` below fp32's (both evaluated on the same images).

    Per class, AP50 and not recall: the validator's recall is read at the confidence of the best mean F1,
    which moves with any small change of scores; on the trained tiny model INT8 lost 0.009 of scratch AP50
    and 0.08 of its recall, on the demo's fine-tuned model 0.005 of AP50 and gained 0.09 of recall.
    """
    drop = fp32.metrics[metric] - int8.metrics[metric]
    kept = {name: m.ap50 for name, m in int8.per_class.items()}  # a class int8 lost entirely: AP 0
    class_drops = {
        name: m.ap50 - kept.get(name, 0.0)
        for name, m in fp32.per_class.items()
        if m.ap50 - kept.get(name, 0.0) > max_class_drop
    }
    numbers = f"{metric} int8 {int8.metrics[metric]:.4f} vs fp32 {fp32.metrics[metric]:.4f}"
    if drop > max_drop:
        return Int8Check(False, f"{numbers}: drop {drop:.4f} > {max_drop}", fp32, int8)
    if class_drops:
        worst = ", ".join(f"{k} -{v:.3f}" for k, v in sorted(class_drops.items()))
        why = f"{numbers}; AP50 drops over {max_class_drop}: {worst}"
        return Int8Check(False, why, fp32, int8)
    return Int8Check(True, f"{numbers}: within {max_drop}", fp32, int8)


def check_int8(fp32_onnx: Path, int8_onnx: Path, data_yaml: Path, imgsz: int, **policy: Any) -> Int8Check:
    """Evaluate both ONNX files on ``data_yaml``'s val split (Ultralytics' validator, as the gate) and judge
    (:func:`judge_int8`; ``policy``: its keyword arguments)."""
    fp32 = evaluate(fp32_onnx, data_yaml, imgsz=imgsz, batch=1)
    int8 = evaluate(int8_onnx, data_yaml, imgsz=imgsz, batch=1)
    check = judge_int8(fp32, int8, **policy)
    logger.info("INT8 check on %s: %s", data_yaml, check.reason)
    return check


def edge_export(
    fp32: ExportedModel,
    train_images: Path,
    check_yaml: Path,
    *,
    calibration: int = 64,
    **policy: Any,
) -> tuple[ExportedModel, dict[str, str]]:
    """The file the edge runs: the INT8 twin of ``fp32`` when :func:`check_int8` ships it, else ``fp32``.

    Returns it with the tags recording why (``int8.*``, and ``int8.decision: failed`` when quantising or
    evaluating raised: the edge then gets fp32 and the retrain goes on).
    """
    try:
        int8 = quantize_int8(
            fp32, calibration_images(train_images, calibration), fp32.path.with_name(INT8_FILE)
        )
        check = check_int8(fp32.path, int8.path, check_yaml, fp32.imgsz, **policy)
    except ModelBuildError as exc:
        logger.warning("INT8 export of %s failed; the edge gets the fp32 file: %s", fp32.path, exc)
        return fp32, {"int8.decision": "failed", "int8.reason": str(exc)[:4000]}
    return (int8 if check.accepted else fp32), check.as_tags()
