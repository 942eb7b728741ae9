"""The ``trigger`` of the line YAML: what tells the station a part is at the camera (None: free-running).

One class per trigger type, joined in the :data:`TriggerConfig` union.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_agent.config.common import _Cfg
from edge_agent.config.mqtt import MqttEndpoint
from edge_agent.config.opcua import OpcUaEndpoint, OpcUaTriggerNodes
from edge_agent.config.sources import ReconnectConfig


class TimerTrigger(_Cfg):
    """A software trigger every ``period_s`` (a line without a part sensor; tests and benches)."""

    type: Literal["timer"]
    period_s: float = Field(gt=0, le=3600, description="Seconds between parts (1/parts per second).")
    part_prefix: str = Field("part-", max_length=32, description="Part ids are <prefix><counter>.")


class ModbusTrigger(_Cfg):
    """A part-present bit on a PLC or Modbus I/O (light barrier): a rising edge of a discrete input or coil,
    polled every ``poll_ms`` (the trigger time is known to within one poll)."""

    type: Literal["modbus"]
    host: str
    port: int = Field(502, ge=1, le=65535)
    device_id: int = Field(1, ge=0, le=247)
    table: Literal["discrete_input", "coil"] = "discrete_input"
    address: int = Field(0, ge=0, le=65535, description="The part-present bit.")
    poll_ms: float = Field(2.0, gt=0, le=1000)
    part_id_register: int | None = Field(
        None, ge=0, le=65535, description="Holding register with the PLC's part number, read at the edge."
    )
    encoder_register: int | None = Field(
        None, ge=0, le=65535, description="Input register with the conveyor encoder (16 bit), read at edges."
    )
    part_prefix: str = Field("part-", max_length=32, description="Part ids are <prefix><number>.")
    timeout_s: float = Field(1.0, gt=0, le=60)
    reconnect: ReconnectConfig = ReconnectConfig()


class MqttTrigger(MqttEndpoint):
    """A message on ``topic`` is a part; a JSON payload may carry its id (``part_id_field``) and an encoder
    count (``encoder_field``). Broker, TLS and user: :class:`MqttEndpoint`."""

    type: Literal["mqtt"]
    topic: str = "factoryloop/part"
    qos: Literal[0, 1, 2] = 1
    part_id_field: str = "part_id"
    encoder_field: str = "encoder"
    part_prefix: str = Field("part-", max_length=32, description="Ids of parts whose message has none.")
    timeout_s: float = Field(5.0, gt=0, le=60, description="Connecting; longer: the trigger reconnects.")
    reconnect: ReconnectConfig = ReconnectConfig()


class OpcUaTrigger(OpcUaEndpoint):
    """A part-present node on an OPC UA server (the PLC): one part per rising edge, by data-change
    subscription (``subscribe``) or by reading it every ``poll_ms`` (``poll``)."""

    type: Literal["opcua"]
    nodes: OpcUaTriggerNodes
    mode: Literal["subscribe", "poll"] = "subscribe"
    publishing_interval_ms: float = Field(
        10.0, ge=0, le=10000, description="subscribe: how often the server sends changes (it may revise)."
    )
    poll_ms: float = Field(5.0, gt=0, le=1000, description="poll: the read period.")
    part_prefix: str = Field("part-", max_length=32, description="Ids made when there is no part_id node.")
    timeout_s: float = Field(5.0, gt=0, le=60, description="Each request and the connect.")
    reconnect: ReconnectConfig = ReconnectConfig()


TriggerConfig = Annotated[
    TimerTrigger | ModbusTrigger | MqttTrigger | OpcUaTrigger,
    Field(discriminator="type"),
]
