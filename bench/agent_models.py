"""Models for bench/bench_agent.py: the tiny model of the tests (trained), a yolo11n-size one (untrained)."""

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


MODELS: dict[str, Callable[[Path], BenchModel]] = {"tiny": tiny, "yolo11n": yolo11n}
