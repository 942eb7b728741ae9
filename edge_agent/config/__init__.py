"""The line YAML: one agent, one station, one camera. Pydantic with ``extra="forbid"``: a typo is an error.

:func:`load_config` reports every problem with its YAML path (``sinks[1].port: Input should be ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from edge_agent.config.common import Ident, _Cfg
from edge_agent.config.sinks import (
    LogSink,
    ModbusSink,
    MqttSink,
    SinkConfig,
    WebhookSink,
)
from edge_agent.config.sources import (
    FolderSource,
    OpenCVSource,
    ReconnectConfig,
    SimulatedSource,
    SourceConfig,
)
from edge_agent.errors import AgentConfigError
from factoryloop.settings import KafkaSettings
from factoryloop.yamlpath import read_yaml, validate_mapping


class DetectorConfig(_Cfg):
    onnx: Path
    imgsz: int | None = Field(None, gt=0, le=4096, description="Default: the model's metadata, else 640.")
    threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads.")
    class_names: tuple[str, ...] | None = Field(None, description="Default: the model's metadata 'names'.")
    conf: float = Field(0.25, ge=0.0, le=1.0, description="Detector floor; rules apply their own thresholds.")
    iou: float = Field(0.7, gt=0.0, le=1.0)
    max_det: int = Field(300, ge=1)
    warmup_runs: int = Field(2, ge=0)


class ClassRule(_Cfg):
    """Decision rule of one class. Fractions for the ROI (x1, y1, x2, y2 of the frame, 0..1)."""

    confidence: float = Field(0.5, ge=0.0, le=1.0, description="At or above: the defect counts.")
    uncertain: float | None = Field(None, ge=0.0, le=1.0, description="[uncertain, confidence): UNCERTAIN.")
    min_box_area: float = Field(0.0, ge=0.0, description="Boxes smaller than this (px^2) are ignored.")
    roi: tuple[float, float, float, float] | None = None
    fail: bool = Field(True, description="False: recorded but never fails the part (cosmetic class).")

    @model_validator(mode="after")
    def _check(self) -> ClassRule:
        if self.uncertain is not None and self.uncertain > self.confidence:
            raise ValueError(f"uncertain ({self.uncertain}) must be <= confidence ({self.confidence})")
        if self.roi is not None:
            x1, y1, x2, y2 = self.roi
            if not (0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1):
                raise ValueError(
                    f"roi {self.roi} must be fractions with 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1"
                )
        return self


class RulesConfig(_Cfg):
    default: ClassRule = ClassRule()
    classes: dict[str, ClassRule] = Field(default_factory=dict, description="Per-class overrides.")

    def for_class(self, name: str) -> ClassRule:
        return self.classes.get(name, self.default)


class SamplingConfig(_Cfg):
    """Which frames are published: every FAIL and UNCERTAIN, rare classes, and a random share of PASS."""

    fail: bool = True
    uncertain: bool = True
    rare_class_min_count: int = Field(20, ge=0, description="A class seen fewer times than this is rare/new.")
    pass_rate: float = Field(0.02, ge=0.0, le=1.0)
    seed: int | None = None
    jpeg_quality: int = Field(90, ge=10, le=100)


class BufferConfig(_Cfg):
    dir: Path | None = Field(None, description="Default: <state_dir>/buffer.")
    max_bytes: int = Field(1024 * 1024 * 1024, ge=1024)


class KafkaConfig(_Cfg):
    bootstrap_servers: str | None = None
    topic_prefix: str | None = None
    delivery_timeout_s: float = Field(
        15.0, gt=1.0, description="After this, an unacknowledged record is buffered."
    )
    linger_ms: int = Field(
        100, ge=0, le=5000, description="Producer batching: more records per request, fewer requests per s."
    )

    def settings(self) -> KafkaSettings:
        overrides: dict[str, Any] = {
            k: v
            for k, v in (("bootstrap_servers", self.bootstrap_servers), ("topic_prefix", self.topic_prefix))
            if v is not None
        }
        return KafkaSettings(**overrides)


class DeploymentsConfig(_Cfg):
    enabled: bool = True
    smoke_max_latency_ms: float = Field(2000.0, gt=0)
    smoke_frames: int = Field(4, ge=1)


class PipelineConfig(_Cfg):
    capture_queue: int = Field(8, ge=1)
    publish_queue: int = Field(256, ge=1)
    publish_interval_ms: float = Field(
        20.0, gt=0, le=1000, description="The publish thread sends the outcomes queued meanwhile at once."
    )
    shadow_queue: int = Field(8, ge=1)


class AgentConfig(_Cfg):
    agent_id: Ident
    line_id: Ident
    station_id: Ident
    product: str | None = Field(None, max_length=64)
    source: SourceConfig
    detector: DetectorConfig
    rules: RulesConfig = RulesConfig()
    sinks: tuple[SinkConfig, ...] = ()
    sampling: SamplingConfig = SamplingConfig()
    buffer: BufferConfig = BufferConfig()
    kafka: KafkaConfig = KafkaConfig()
    deployments: DeploymentsConfig = DeploymentsConfig()
    pipeline: PipelineConfig = PipelineConfig()
    heartbeat_interval_s: float = Field(10.0, gt=0)
    metrics_port: int | None = Field(None, ge=0, le=65535, description="None: no /metrics endpoint.")

    @model_validator(mode="after")
    def _cross(self) -> AgentConfig:
        names = self.detector.class_names
        if names is not None:
            unknown = sorted(set(self.rules.classes) - set(names))
            if unknown:
                raise ValueError(
                    f"rules.classes names unknown classes {unknown}; detector classes: {list(names)}"
                )
        sink_names = [s.name or f"{s.type}{i}" for i, s in enumerate(self.sinks)]
        if len(set(sink_names)) != len(sink_names):
            raise ValueError(f"sink names must be unique, got {sink_names}")
        return self


def parse_config(data: Any, source: str = "<config>") -> AgentConfig:
    return validate_mapping(AgentConfig, data, source, AgentConfigError)


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate a line YAML; :class:`AgentConfigError` lists every problem with its path."""
    path = Path(path)
    cfg = parse_config(read_yaml(path, AgentConfigError), str(path))
    base = path.parent
    det = cfg.detector
    if not det.onnx.is_absolute():
        cfg = cfg.model_copy(
            update={"detector": det.model_copy(update={"onnx": (base / det.onnx).resolve()})}
        )
    return cfg


__all__ = [
    "AgentConfig",
    "FolderSource",
    "Ident",
    "LogSink",
    "ModbusSink",
    "MqttSink",
    "OpenCVSource",
    "ReconnectConfig",
    "SimulatedSource",
    "SinkConfig",
    "SourceConfig",
    "WebhookSink",
    "load_config",
    "parse_config",
]
