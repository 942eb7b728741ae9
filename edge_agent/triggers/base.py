"""The trigger plug-in interface: a part reached the camera. Each trigger is one part, with its id.

A station driven by a trigger (a PLC's part-present bit, a light barrier on a Modbus input, an MQTT message, a
software timer) captures one frame per camera per trigger instead of free-running; the part id travels with
every outcome, and the reject for that part is scheduled for when it reaches the ejector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """One part at the camera."""

    part_id: str  # unique on the line: the PLC's part number when it sends one, else made by the trigger
    at_mono: float  # time.monotonic() when the trigger fired (the reject is scheduled from it)
    at: datetime  # the same instant, UTC wall clock
    encoder: int | None = None  # the conveyor encoder's count at the trigger, when the trigger reads one


class TriggerSource(ABC):
    """Yields parts. ``wait`` is called from the station's capture thread only; it raises
    :class:`edge_agent.errors.TriggerError` when the device fails (the station reconnects with backoff)."""

    name: str = "trigger"

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def wait(self, timeout_s: float) -> TriggerEvent | None:
        """The next part, or ``None`` if none came within ``timeout_s`` (the caller checks for stop)."""

    @abstractmethod
    def close(self) -> None: ...
