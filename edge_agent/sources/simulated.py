"""The simulated line as a source: frame ``i`` of :class:`factoryloop.sim` at the configured rate."""

from __future__ import annotations

from edge_agent.config import SimulatedSource
from edge_agent.errors import SourceError
from edge_agent.sources.base import FrameSource, Pacer, RawFrame


class SimulatedFrameSource(FrameSource):
    def __init__(self, config: SimulatedSource) -> None:
        from factoryloop.sim.config import SimConfig
        from factoryloop.sim.render import Simulator

        self.config = config
        self.name = f"simulated:seed={config.seed}"
        try:
            sim_config = SimConfig.model_validate({**config.sim, "seed": config.seed})
        except ValueError as exc:
            raise SourceError(f"invalid simulator settings in source.sim: {exc}") from exc
        self.simulator = Simulator(sim_config)
        self._next = config.start
        self._pacer = Pacer(config.fps)

    def open(self) -> None:
        return None

    def read(self) -> RawFrame | None:
        index = self._next
        self._pacer.wait()
        frame = self.simulator.frame(index)
        self._next += 1
        return RawFrame(image=frame.image, index=index, item_id=f"sim-{self.config.seed}-{index}")

    def close(self) -> None:
        return None
