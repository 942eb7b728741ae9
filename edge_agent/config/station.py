"""The ``ejector`` of the line YAML: when a part reaches the ejector after its trigger; how late is late."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_agent.config.common import _Cfg


class EjectorConfig(_Cfg):
    """Where the ejector is, as one of: a delay (``delay_ms``), a distance at a belt speed (``distance_mm`` +
    ``speed_mm_s``), or encoder counts (``counts_to_ejector``, the speed measured from the encoder counts the
    trigger reads at each part, ``counts_per_s`` until two parts were seen)."""

    delay_ms: float | None = Field(None, ge=0, le=600_000, description="Trigger -> part at the ejector.")
    distance_mm: float | None = Field(None, gt=0, description="Camera trigger point -> ejector.")
    speed_mm_s: float | None = Field(None, gt=0, description="Conveyor speed.")
    counts_to_ejector: int | None = Field(None, gt=0, description="Encoder counts trigger -> ejector.")
    counts_per_s: float | None = Field(
        None, gt=0, description="Nominal encoder rate (before it is measured)."
    )
    window_ms: float = Field(
        20.0,
        ge=0,
        le=60_000,
        description="A reject may still fire this long after the part reached the ejector.",
    )
    missed: Literal["reject", "pass"] = Field(
        "reject", description="A part without a verdict: reject it in time (fail-safe) or let it through."
    )

    @model_validator(mode="after")
    def _one_way(self) -> EjectorConfig:
        ways = [
            self.delay_ms is not None,
            self.distance_mm is not None or self.speed_mm_s is not None,
            self.counts_to_ejector is not None,
        ]
        if sum(ways) != 1:
            raise ValueError(
                "say where the ejector is in one way: delay_ms, or distance_mm with speed_mm_s, "
                "or counts_to_ejector with counts_per_s"
            )
        if (self.distance_mm is None) != (self.speed_mm_s is None):
            raise ValueError("distance_mm and speed_mm_s go together")
        if self.counts_to_ejector is not None and self.counts_per_s is None:
            raise ValueError("counts_to_ejector needs counts_per_s (the nominal encoder rate)")
        return self

    def fixed_delay_s(self) -> float | None:
        """The trigger -> ejector time when it does not depend on the encoder."""
        if self.delay_ms is not None:
            return self.delay_ms / 1000
        if self.distance_mm is not None and self.speed_mm_s is not None:
            return self.distance_mm / self.speed_mm_s
        return None
