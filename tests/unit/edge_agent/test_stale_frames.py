"""Heartbeat ``frames_stale``: the frames every live camera of the agent replaced before they were read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from edge_agent.heartbeat import stale_frames


def _watched(source: Any) -> Any:
    return SimpleNamespace(source=source)


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ([SimpleNamespace(stale_dropped=3), SimpleNamespace(stale_dropped=4)], 7),  # top and side cameras
        ([SimpleNamespace(stale_dropped=2), SimpleNamespace()], 2),  # a replayed source counts none
        ([], 0),
    ],
)
def test_stale_frames_sum_over_the_cameras(sources: list[Any], expected: int) -> None:
    agent: Any = SimpleNamespace(sources=[_watched(s) for s in sources])
    assert stale_frames(agent) == expected
