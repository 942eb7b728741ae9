"""Models for bench/bench_agent.py: the tiny model of the tests (trained), a yolo11n-size one (untrained).

``tiny-int8`` and ``yolo11n-int8``: the same models with the agent and the bare loop on the INT8 export
training ships to the edge (training.yolo.quantize, calibrated on 64 simulator training frames), ultralytics
on the same .pt as ever.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BenchModel:
    name: str
    pt: Path
    onnx: Path
    imgsz: int


def tiny(cache: Path) -> BenchModel:
    from tests.support.models import tiny_model

    model = tiny_model(cache)
    return BenchModel("fl-tiny (trained) @224", model.pt, model.onnx, model.imgsz)


def yolo11n(cache: Path, imgsz: int = 320) -> BenchModel:
    """ultralytics' yolo11n.yaml with the 5 simulator classes, untrained (speed only), exported once."""
    target = cache / f"bench-yolo11n-nc5-{imgsz}"
    model = BenchModel(f"yolo11n (untrained) @{imgsz}", target / "model.pt", target / "model.onnx", imgsz)
    if model.onnx.is_file():
        return model
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    from factoryloop.sim.classes import DEFECT_CLASSES
    from training.yolo.export import export_onnx

    work = target.with_name(target.name + f".build{os.getpid()}")
    work.mkdir(parents=True, exist_ok=True)
    yolo: Any = YOLO("yolo11n.yaml", task="detect")  # packaged with ultralytics: nothing is downloaded
    yolo.model = DetectionModel("yolo11n.yaml", nc=len(DEFECT_CLASSES), verbose=False)
    yolo.model.names = dict(enumerate(DEFECT_CLASSES))
    yolo.save(str(work / "model.pt"))
    export_onnx(work / "model.pt", imgsz, work / "model.onnx")
    work.replace(target)
    return model


def int8_of(model: BenchModel, cache: Path) -> BenchModel:
    """``model`` with its ONNX replaced by the INT8 export (built once, cached beside the fp32 file)."""
    target = model.onnx.with_name("model.int8.onnx")
    twin = BenchModel(f"{model.name}, INT8 export (ultralytics: the .pt)", model.pt, target, model.imgsz)
    if target.is_file():
        return twin
    import cv2

    from factoryloop.sim.render import Simulator
    from tests.support.models import TINY_SIM
    from training.yolo.export import ExportedModel, sha256_file
    from training.yolo.quantize import quantize_int8

    calib = cache / f"int8-calibration-{os.getpid()}"
    calib.mkdir(parents=True, exist_ok=True)
    sim = Simulator(TINY_SIM)
    paths = []
    for i in range(64):  # training frames: the tiny model's train range, never the held-out ones
        paths.append(calib / f"{i:06d}.jpg")
        cv2.imwrite(str(paths[-1]), sim.frame(i).image)
    fp32 = ExportedModel(model.onnx, sha256_file(model.onnx), (), model.imgsz)
    quantize_int8(fp32, paths, target)
    for path in paths:
        path.unlink()
    calib.rmdir()
    return twin


MODELS: dict[str, Callable[[Path], BenchModel]] = {
    "tiny": tiny,
    "yolo11n": yolo11n,
    "tiny-int8": lambda cache: int8_of(tiny(cache), cache),
    "yolo11n-int8": lambda cache: int8_of(yolo11n(cache), cache),
}
