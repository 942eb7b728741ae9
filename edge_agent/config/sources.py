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
    uri: int | str = Field(
        description="Camera index (0), rtsp://user:pass@host:554/path, http://host/stream.mjpg or a video "
        "file."
    )
    fps: float | None = Field(
        None, gt=0, description="Pace reading (video files); streams set their own pace."
    )
    width: int | None = Field(None, gt=0, description="Ask a camera device for this frame width.")
    height: int | None = Field(None, gt=0, description="Ask a camera device for this frame height.")
    transport: Literal["tcp", "udp"] = Field(
        "tcp",
        description="RTSP transport: tcp (no packet loss, passes firewalls) or udp (lower latency, "
        "frames break up when packets are lost).",
    )
    open_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Give up opening a stream or file after this long (FFmpeg backend)."
    )
    read_timeout_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="A stream that delivers no frame for this long counts as a failed read (the watchdog "
        "reconnects after reconnect.read_failures of them).",
    )
    latest: bool | None = Field(
        None,
        description="Hand out only the newest frame: a grab thread reads continuously and drops frames the "
        "agent had no time for, so capture latency does not grow. null: on for streams and cameras, off for "
        "video files (every frame is read).",
    )
    decode_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="FFmpeg decoder threads for streams and files. Frame threading delays every frame by "
        "threads - 1 frame periods; null: 1 for live streams (lowest latency), OpenCV's default (one per "
        "CPU) for video files.",
    )
    ffmpeg_options: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")], Annotated[str, Field(pattern=r"^[^;|]*$")]
    ] = Field(
        default_factory=dict,
        description="Extra FFmpeg demuxer/protocol options for streams, e.g. {fflags: nobuffer, "
        "buffer_size: '1048576'}; rtsp_transport here overrides transport.",
    )


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


GigEPixelFormat = Literal[
    "Mono8", "Mono10", "Mono12", "Mono14", "Mono16",
    "BayerRG8", "BayerGR8", "BayerGB8", "BayerBG8",
    "BayerRG10", "BayerGR10", "BayerGB10", "BayerBG10",
    "BayerRG12", "BayerGR12", "BayerGB12", "BayerBG12",
    "BayerRG16", "BayerGR16", "BayerGB16", "BayerBG16",
    "RGB8", "BGR8", "RGBa8", "BGRa8", "YUV422_8", "YUV422_8_UYVY",
]  # fmt: skip
FeatureValue = bool | int | float | str


class GigESource(_SourceBase):
    """A GigE Vision / GenICam camera through Aravis 0.8 (edge_agent.sources.aravis; needs PyGObject)."""

    type: Literal["gige"]
    camera: str | None = Field(
        None,
        description="Aravis device id (Vendor-Serial, as arv-tool-0.8 lists it) or the camera's IP address; "
        "null: the first camera found.",
    )
    pixel_format: GigEPixelFormat | None = Field(
        None, description="PFNC pixel format to ask for (converted to BGR); null: keep the camera's."
    )
    width: int | None = Field(None, gt=0, description="Region of interest; null: keep the camera's.")
    height: int | None = Field(None, gt=0)
    offset_x: int = Field(0, ge=0)
    offset_y: int = Field(0, ge=0)
    exposure_us: float | None = Field(
        None, gt=0, description="Exposure time in µs (turns auto exposure off)."
    )
    gain_db: float | None = Field(None, description="Gain in dB (turns auto gain off).")
    trigger_mode: Literal["free_run", "software", "hardware"] = Field(
        "free_run",
        description="free_run: the camera streams at frame_rate; software: each read fires TriggerSoftware "
        "(one frame per part); hardware: the camera waits for trigger_line.",
    )
    trigger_line: str = Field("Line0", description="TriggerSource of the hardware trigger.")
    trigger_activation: str | None = Field(None, description="e.g. RisingEdge; null: the camera's.")
    frame_rate: float | None = Field(
        None, gt=0, description="free_run: AcquisitionFrameRate; software: pace of the triggers."
    )
    packet_size: int | None = Field(
        None, ge=576, le=16000, description="GVSP packet bytes (9000 with jumbo frames); null: negotiate."
    )
    packet_resend: bool = Field(True, description="Ask the camera to resend lost packets.")
    buffer_count: int = Field(8, ge=2, le=256, description="Stream buffers queued to Aravis.")
    latest: bool = Field(
        True,
        description="free_run: hand out the newest frame received and requeue older ones (counted), so that "
        "a consumer slower than the camera does not inspect a backlog; false: every frame in order.",
    )
    frame_timeout_ms: int = Field(
        2000,
        gt=0,
        le=600_000,
        description="free_run/software: no frame within this is a failed read. hardware: how often to check "
        "that the camera still answers while waiting for a part.",
    )
    features: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], FeatureValue] = Field(
        default_factory=dict,
        description="Other GenICam features set by name after the above, e.g. {BalanceWhiteAuto: Off}.",
    )


SourceConfig = Annotated[
    OpenCVSource | FolderSource | SimulatedSource | GigESource, Field(discriminator="type")
]
