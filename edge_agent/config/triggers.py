"""The ``trigger`` of the line YAML: what tells the station a part is at the camera (None: free-running).

One class per trigger type, joined in the :data:`TriggerConfig` union.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_agent.config.common import _Cfg


class TimerTrigger(_Cfg):
    """A software trigger every ``period_s`` (a line without a part sensor; tests and benches)."""

    type: Literal["timer"]
    period_s: float = Field(gt=0, le=3600, description="Seconds between parts (1/parts per second).")
    part_prefix: str = Field("part-", max_length=32, description="Part ids are <prefix><counter>.")


TriggerConfig = Annotated[TimerTrigger, Field(discriminator="type")]
