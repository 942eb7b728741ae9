"""What travels between the pipeline's threads: a captured frame, and its inspection result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from edge_agent.decide.rules import Decision
from edge_agent.detect.letterbox import Prepared
from edge_agent.models.manager import LoadedModel
from edge_agent.triggers.base import TriggerEvent
from factoryloop.schemas import Latency


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    frame_id: str
    image: np.ndarray
    captured_at: datetime
    captured_mono: float
    source_index: int | None
    item_id: str | None  # the part id when a trigger drives the station
    prepared: Prepared | None = None  # the model input, made by the capture thread
    part: TriggerEvent | None = None  # the trigger of the part in the frame (triggered capture only)


@dataclass(frozen=True, slots=True)
class Inspected:
    frame: CapturedFrame
    decision: Decision
    model: LoadedModel
    outcome_id: str
    latency: Latency
    sample_reason: str | None
    shadow: bool = False
