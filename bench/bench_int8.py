"""How much faster is the INT8 export training ships (training.yolo.quantize) than fp32, one thread?

python bench/bench_int8.py    # needs the bench model of bench/bench_agent.py (built there on first use)

The product path: static QDQ (uint8 activations, int8 per-channel weights), the detection head's output
convolutions and decode left in fp32, calibrated on 64 simulator training frames. The bench model is
untrained, so only the speed means something here; accuracy is checked per model by training
(``check_int8``: the same evaluator as the gate) and on the trained tiny model in the tests.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.detect.letterbox import prepare
from factoryloop.sim import Simulator
from factoryloop.sim.demo.presets import demo_sim_config
from training.yolo.export import ExportedModel
from training.yolo.quantize import quantize_int8

MODEL = Path.home() / ".cache/factoryloop/test-models/bench-yolo11n-nc5-320/model.onnx"
IMGSZ = 320


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
    tensors = [prepare(sim.frame(10_000 + i).image, IMGSZ).tensor for i in range(40)]
    with tempfile.TemporaryDirectory(prefix="fl-int8-") as d:
        calib = []
        for i in range(64):
            calib.append(Path(d) / f"{i:06d}.jpg")
            cv2.imwrite(str(calib[-1]), sim.frame(i).image)
        int8 = quantize_int8(ExportedModel(MODEL, "", (), IMGSZ), calib, Path(d) / "int8.onnx").path
        name = _session(MODEL).get_inputs()[0].name
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
