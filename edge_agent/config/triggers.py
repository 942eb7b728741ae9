"""The ``trigger`` of the line YAML: what tells the station a part is at the camera (None: free-running).

One class per trigger type, joined in the :data:`TriggerConfig` union.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_agent.config.common import _Cfg
from edge_agent.config.opcua import OpcUaEndpoint, OpcUaTriggerNodes


class TimerTrigger(_Cfg):
    """A software trigger every ``period_s`` (a line without a part sensor; tests and benches)."""

    type: Literal["timer"]
    period_s: float = Field(gt=0, le=3600, description="Seconds between parts (1/parts per second).")
    part_prefix: str = Field("part-", max_length=32, description="Part ids are <prefix><counter>.")


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


TriggerConfig = Annotated[TimerTrigger | OpcUaTrigger, Field(discriminator="type")]
