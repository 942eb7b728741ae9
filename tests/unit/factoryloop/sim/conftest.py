from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from factoryloop.sim import SimConfig, Simulator


@pytest.fixture
def make_sim() -> Callable[..., Simulator]:
    """Factory: a small (320x240) simulator; keyword overrides go into the camera or the config."""

    def make(seed: int = 7, camera: dict[str, Any] | None = None, **overrides: Any) -> Simulator:
        cam = {"width": 320, "height": 240, **(camera or {})}
        cfg = SimConfig.model_validate({"camera": cam, **overrides})
        return Simulator(cfg, seed=seed)

    return make
