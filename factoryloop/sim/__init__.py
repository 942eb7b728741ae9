"""Seeded simulated production line: rendered parts with exact defect ground truth and scheduled drift.

Frame ``i`` depends only on ``(seed, i, config)``; no torch, no network. See docs/simulator.md.
"""

from factoryloop.sim.classes import CLASS_MAP, DEFECT_CLASSES, ClassName, class_id
from factoryloop.sim.config import (
    CameraConfig,
    CameraDrift,
    ClassRateDrift,
    DefectClassConfig,
    DriftEvent,
    LightingDrift,
    ProductChangeDrift,
    ProductConfig,
    RateSpikeDrift,
    SimConfig,
    load_config,
    new_class_drift,
)
from factoryloop.sim.drift import FrameState
from factoryloop.sim.errors import SimError
from factoryloop.sim.oracle import Oracle, Truth
from factoryloop.sim.render import SimBox, SimFrame, Simulator
from factoryloop.sim.source import LiveSource
from factoryloop.sim.writers import encode_jpeg, write_image_folder, write_video, write_yolo_dataset

__all__ = [
    "CLASS_MAP",
    "DEFECT_CLASSES",
    "CameraConfig",
    "CameraDrift",
    "ClassName",
    "ClassRateDrift",
    "DefectClassConfig",
    "DriftEvent",
    "FrameState",
    "LightingDrift",
    "LiveSource",
    "Oracle",
    "ProductChangeDrift",
    "ProductConfig",
    "RateSpikeDrift",
    "SimBox",
    "SimConfig",
    "SimError",
    "SimFrame",
    "Simulator",
    "Truth",
    "class_id",
    "encode_jpeg",
    "load_config",
    "new_class_drift",
    "write_image_folder",
    "write_video",
    "write_yolo_dataset",
]
