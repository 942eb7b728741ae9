"""The ``sinks`` of the line YAML: one class per reject-sink type, joined in the :data:`SinkConfig` union."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_agent.config.common import _Cfg
from edge_agent.config.mqtt import MqttEndpoint
from edge_agent.config.opcua import OpcUaEndpoint, OpcUaSinkNodes, OpcUaVerdictCodes


class _SinkBase(_Cfg):
    name: str | None = None
    verdicts: tuple[Literal["PASS", "FAIL", "UNCERTAIN"], ...] = ("FAIL",)
    queue_size: int = Field(64, ge=1)
    timeout_s: float = Field(2.0, gt=0)


class MqttSink(_SinkBase, MqttEndpoint):
    """Publishes each signal as JSON on ``topic`` (broker, TLS and user: :class:`MqttEndpoint`)."""

    type: Literal["mqtt"]
    topic: str = "factoryloop/reject"
    qos: Literal[0, 1, 2] = 1


class ModbusSink(_SinkBase):
    type: Literal["modbus"]
    host: str
    port: int = Field(502, ge=1, le=65535)
    coil: int = Field(0, ge=0, le=65535)
    device_id: int = Field(1, ge=0, le=247)
    pulse_ms: int | None = Field(200, ge=1, description="Reset the coil after this long; None keeps it set.")


class WebhookSink(_SinkBase):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)


class LogSink(_SinkBase):
    type: Literal["log"]
    level: Literal["DEBUG", "INFO", "WARNING"] = "INFO"


class OpcUaSink(_SinkBase, OpcUaEndpoint):
    """Writes verdict, part id and classes to PLC nodes, then ``seq``/``strobe`` (see docs/edge-agent.md)."""

    type: Literal["opcua"]
    nodes: OpcUaSinkNodes
    verdict_codes: OpcUaVerdictCodes = OpcUaVerdictCodes()
    classes_separator: str = Field(",", max_length=8, description="Joins the classes for a String node.")


SinkConfig = Annotated[MqttSink | ModbusSink | WebhookSink | LogSink | OpcUaSink, Field(discriminator="type")]
