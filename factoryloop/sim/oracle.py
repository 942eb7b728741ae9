"""Ground truth on demand: what is really in frame N (used to simulate supervisor review)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from factoryloop.sim.config import SimConfig
from factoryloop.sim.render import SimBox, Simulator


@dataclass(frozen=True)
class Truth:
    index: int
    product: str
    boxes: tuple[SimBox, ...]

    @property
    def defect_free(self) -> bool:
        return not self.boxes

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(sorted({b.class_name for b in self.boxes}))


class Oracle:
    """Answers ``truth(n)`` for the line ``(config, seed)``; results are cached (LRU) per frame."""

    def __init__(self, config: SimConfig | None = None, *, seed: int | None = None, cache_size: int = 4096):
        self.simulator = Simulator(config, seed=seed)
        self._cache: OrderedDict[int, Truth] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def for_simulator(cls, simulator: Simulator) -> Oracle:
        return cls(simulator.config, seed=simulator.seed)

    def truth(self, index: int) -> Truth:
        hit = self._cache.get(index)
        if hit is not None:
            self._cache.move_to_end(index)
            return hit
        frame = self.simulator.frame(index)
        truth = Truth(index, frame.product, frame.boxes)
        self._cache[index] = truth
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return truth

    def boxes(self, index: int) -> tuple[SimBox, ...]:
        return self.truth(index).boxes
