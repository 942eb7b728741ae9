"""The ``source`` of the line YAML: one class per source type, joined in the :data:`SourceConfig` union."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from edge_agent.config.common import _Cfg


class ReconnectConfig(_Cfg):
    """Watchdog: reopen a lost source with backoff after ``read_failures`` failed reads in a row."""

    initial_backoff_s: float = Field(0.5, gt=0)
    max_backoff_s: float = Field(10.0, gt=0)
    read_failures: int = Field(5, ge=1)


class _SourceBase(_Cfg):
    reconnect: ReconnectConfig = ReconnectConfig()
    max_frames: int | None = Field(None, ge=1, description="Stop after this many frames (tests, replays).")


class OpenCVSource(_SourceBase):
    """USB camera index, RTSP/HTTP stream URL or a video file, via ``cv2.VideoCapture``."""

    type: Literal["opencv"]
    uri: int | str
    fps: float | None = Field(
        None, gt=0, description="Pace reading (video files); streams set their own pace."
    )
    width: int | None = Field(None, gt=0)
    height: int | None = Field(None, gt=0)


class FolderSource(_SourceBase):
    """Replay image files of a folder at a set rate."""

    type: Literal["folder"]
    path: Path
    fps: float = Field(10.0, ge=0, description="0 = as fast as possible.")
    order: Literal["ordered", "shuffled"] = "ordered"
    loop: bool = False
    seed: int = 0
    pattern: str = "*"
    preload: bool = Field(
        False, description="Decode every image once at open and replay from memory (w*h*3 bytes each)."
    )


class SimulatedSource(_SourceBase):
    """The simulated line (``factoryloop.sim``): seeded frames; ``sim`` holds SimConfig fields."""

    type: Literal["simulated"]
    fps: float = Field(30.0, ge=0, description="0 = as fast as possible.")
    seed: int = Field(0, ge=0)
    start: int = Field(0, ge=0)
    sim: dict[str, Any] = Field(default_factory=dict)


SourceConfig = Annotated[OpenCVSource | FolderSource | SimulatedSource, Field(discriminator="type")]
