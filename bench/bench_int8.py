"""How much faster is an INT8 (static QDQ) export of the yolo11n bench model in onnxruntime, one thread?

python bench/bench_int8.py    # needs the bench model of bench/bench_agent.py (built there on first use)

A measurement for the next step of issue 4 (agent / ultralytics >= 1.5 on yolo11n), not a product path yet:
calibration on 32 simulator frames, per-channel int8 weights, uint8 activations. The bench model is untrained,
so only the speed means something here; an INT8 export of a real model must be gated like any challenger.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.detect.letterbox import prepare
from factoryloop.sim import Simulator
from training.loop.presets import demo_sim_config

MODEL = Path.home() / ".cache/factoryloop/test-models/bench-yolo11n-nc5-320/model.onnx"
IMGSZ = 320


class _Frames(CalibrationDataReader):
    def __init__(self, name: str, tensors: list[np.ndarray]) -> None:
        self._it = iter([{name: t} for t in tensors])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main() -> None:
    if not MODEL.is_file():
        raise SystemExit(f"{MODEL} is missing: run bench/bench_agent.py once (it builds the bench model)")
    sim = Simulator(demo_sim_config())
    tensors = [prepare(sim.frame(i).image, IMGSZ).tensor for i in range(40)]
    with tempfile.TemporaryDirectory(prefix="fl-int8-") as d:
        pre, int8 = Path(d) / "pre.onnx", Path(d) / "int8.onnx"
        quant_pre_process(str(MODEL), str(pre))
        name = _session(MODEL).get_inputs()[0].name
        quantize_static(
            str(pre),
            str(int8),
            _Frames(name, tensors[:32]),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        sessions = {"fp32": _session(MODEL), "int8": _session(int8)}
        x = tensors[35]
        for s in sessions.values():
            for _ in range(5):
                s.run(None, {name: x})
        best: dict[str, float] = {}
        for _ in range(3):  # interleaved rounds: both sides see the same machine
            for label, s in sessions.items():
                t = time.perf_counter()
                for _ in range(50):
                    s.run(None, {name: x})
                ms = (time.perf_counter() - t) / 50 * 1000
                best[label] = min(best.get(label, ms), ms)
                print(f"{label}: {ms:.2f} ms per frame")
    ratio = best["fp32"] / best["int8"]
    print(f"best round: fp32 {best['fp32']:.2f} ms, int8 {best['int8']:.2f} ms, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
