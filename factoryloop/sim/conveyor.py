"""A simulated conveyor: numbered parts passing a part-present sensor (the station's trigger), the camera, and
an ejector further down the belt, with the simulator's ground truth of which part is defective.

Part ``n`` (1, 2, ...) is simulator frame ``first_index + n - 1``: a replayed ``simulated`` source with the
same line config (``start: first_index``, ``fps: 0``) shows the station part ``n`` at its ``n``-th trigger.
Its leading edge reaches the sensor at ``at_sensor_s = (n - 1) * pitch_mm / speed_mm_s`` after the belt
starts; the sensor sees it for ``part_length_mm / speed_mm_s``; its centre is in front of the ejector at
``at_ejector_s = at_sensor_s + (ejector_mm + part_length_mm / 2) / speed_mm_s``, and a reject fired at time
``t`` hits the part whose body covers the ejector at ``t`` (:meth:`Conveyor.hit`).

:meth:`Conveyor.run` plays the belt in real time and calls ``on_sensor(part, present)`` at each edge, for a
test or a bench to raise the part-present bit on a real Modbus server, publish an MQTT message, set an OPC UA
node. Nothing here talks to a device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from factoryloop.sim.config import SimConfig
from factoryloop.sim.oracle import Oracle
from factoryloop.sim.render import Simulator


class ConveyorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    speed_mm_s: float = Field(500.0, gt=0, description="Belt speed.")
    pitch_mm: float = Field(100.0, gt=0, description="Distance between successive parts' leading edges.")
    part_length_mm: float = Field(50.0, gt=0, description="Along the belt; must be below the pitch.")
    ejector_mm: float = Field(300.0, ge=0, description="Sensor -> ejector.")
    encoder_counts_per_mm: float = Field(10.0, gt=0)
    first_index: int = Field(0, ge=0, description="The simulator frame of part 1.")
    part_prefix: str = Field("part-", max_length=32)

    @property
    def period_s(self) -> float:
        """Seconds between parts (1 / parts per second)."""
        return self.pitch_mm / self.speed_mm_s

    @property
    def ejector_delay_s(self) -> float:
        """Trigger (leading edge at the sensor) -> the part's centre in front of the ejector."""
        return (self.ejector_mm + self.part_length_mm / 2) / self.speed_mm_s

    @property
    def reach_s(self) -> float:
        """How long the part's body covers the ejector (a reject within +-reach_s/2 of the centre hits it)."""
        return self.part_length_mm / self.speed_mm_s


@dataclass(frozen=True, slots=True)
class ConveyorPart:
    part_id: str
    number: int  # 1, 2, ...
    index: int  # its simulator frame
    defective: bool  # the simulator's ground truth: at least one defect painted
    at_sensor_s: float  # leading edge at the sensor, seconds after the belt started
    at_ejector_s: float  # centre in front of the ejector
    encoder: int  # the belt encoder's count at its trigger


class Conveyor:
    def __init__(self, config: ConveyorConfig, line: SimConfig | None = None) -> None:
        if config.part_length_mm >= config.pitch_mm:
            raise ValueError(
                f"part_length_mm ({config.part_length_mm}) must be below pitch_mm ({config.pitch_mm}): "
                "else the sensor never sees a gap between parts"
            )
        self.config = config
        self.line = line or SimConfig()
        self._oracle = Oracle(self.line)
        self.started_mono: float | None = None  # time.monotonic() when run() started the belt

    @cached_property
    def simulator(self) -> Simulator:
        return Simulator(self.line)

    def part(self, number: int) -> ConveyorPart:
        c = self.config
        index = c.first_index + number - 1
        at_sensor = (number - 1) * c.period_s
        return ConveyorPart(
            part_id=f"{c.part_prefix}{number}",
            number=number,
            index=index,
            defective=not self._oracle.truth(index).defect_free,
            at_sensor_s=at_sensor,
            at_ejector_s=at_sensor + c.ejector_delay_s,
            encoder=round(at_sensor * c.speed_mm_s * c.encoder_counts_per_mm),
        )

    def parts(self, count: int) -> list[ConveyorPart]:
        return [self.part(n) for n in range(1, count + 1)]

    def image(self, part: ConveyorPart) -> np.ndarray:
        """What the camera sees of ``part`` (BGR)."""
        return self.simulator.frame(part.index).image

    def hit(self, t_s: float) -> ConveyorPart | None:
        """The part a reject fired ``t_s`` seconds after the belt started hits (``None``: a gap)."""
        c = self.config
        passed_sensor = t_s - c.ejector_mm / c.speed_mm_s  # when what is now at the ejector passed the sensor
        number = int(np.floor(passed_sensor / c.period_s)) + 1  # the last part whose front passed the ejector
        if number < 1:
            return None
        part = self.part(number)
        in_front_since = part.at_sensor_s + c.ejector_mm / c.speed_mm_s
        return part if in_front_since <= t_s <= in_front_since + c.reach_s else None

    def run(
        self,
        count: int,
        on_sensor: Callable[[ConveyorPart, bool], None],
        stop: threading.Event | None = None,
    ) -> None:
        """Play ``count`` parts past the sensor in real time (blocking): ``on_sensor(part, True)`` at its
        leading edge, ``on_sensor(part, False)`` at its trailing edge."""
        stop = stop or threading.Event()
        start = self.started_mono = time.monotonic()
        for part in self.parts(count):
            for at, present in ((part.at_sensor_s, True), (part.at_sensor_s + self.config.reach_s, False)):
                if stop.wait(max(0.0, start + at - time.monotonic())):
                    return
                on_sensor(part, present)

    def start(
        self, count: int, on_sensor: Callable[[ConveyorPart, bool], None], stop: threading.Event | None = None
    ) -> threading.Thread:
        """:meth:`run` in a daemon thread (started)."""
        thread = threading.Thread(
            target=self.run, args=(count, on_sensor, stop), name="conveyor", daemon=True
        )
        thread.start()
        return thread
