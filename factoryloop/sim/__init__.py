"""Seeded simulated production line: rendered parts with exact defect ground truth and scheduled drift.

Frame ``i`` depends only on ``(seed, i, config)``; no torch, no network. The class map is the config's
(``SimConfig.classes``); presets ``demo`` (metal plate) and ``tile_line`` (ceramic tile) are two simulated
products with different classes. See docs/simulator.md.
"""

from factoryloop.sim.classes import CLASS_MAP, DEFECT_CLASSES, ClassName, class_id, ensure_simulated_product
from factoryloop.sim.config import (
    PAINTER_NAMES,
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
    parse_config,
)
from factoryloop.sim.drift import FrameState
from factoryloop.sim.errors import SimError
from factoryloop.sim.oracle import Oracle, Truth
from factoryloop.sim.presets import PRESETS, TILE_CLASSES, TILE_SIM, preset
from factoryloop.sim.render import SimBox, SimFrame, Simulator
from factoryloop.sim.source import LiveSource
from factoryloop.sim.writers import encode_jpeg, write_image_folder, write_video, write_yolo_dataset

__all__ = [
    "CLASS_MAP",
    "DEFECT_CLASSES",
    "PAINTER_NAMES",
    "PRESETS",
    "TILE_CLASSES",
    "TILE_SIM",
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
    "ensure_simulated_product",
    "load_config",
    "new_class_drift",
    "parse_config",
    "preset",
    "write_image_folder",
    "write_video",
    "write_yolo_dataset",
]
