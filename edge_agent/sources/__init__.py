"""Frame sources: an explicit registry from the config's ``type`` to the implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_agent.errors import UnknownSourceType
from edge_agent.sources.base import FrameSource, RawFrame


def _opencv(config: Any) -> FrameSource:
    from edge_agent.sources.opencv import OpenCVFrameSource

    return OpenCVFrameSource(config)


def _folder(config: Any) -> FrameSource:
    from edge_agent.sources.folder import FolderFrameSource

    return FolderFrameSource(config)


def _simulated(config: Any) -> FrameSource:
    from edge_agent.sources.simulated import SimulatedFrameSource

    return SimulatedFrameSource(config)


def _gige(config: Any) -> FrameSource:
    from edge_agent.sources.aravis import AravisFrameSource  # imports gi only when a GigE camera is asked for

    return AravisFrameSource(config)


SOURCE_TYPES: dict[str, Callable[[Any], FrameSource]] = {
    "opencv": _opencv,
    "folder": _folder,
    "simulated": _simulated,
    "gige": _gige,
}


def build_source(config: Any) -> FrameSource:
    """Instantiate the source of ``config.type``; :class:`UnknownSourceType` if none is registered."""
    kind = getattr(config, "type", None)
    try:
        factory = SOURCE_TYPES[kind]  # type: ignore[index]
    except KeyError:
        raise UnknownSourceType(
            f"unknown source type {kind!r}; known: {', '.join(sorted(SOURCE_TYPES))}"
        ) from None
    return factory(config)


__all__ = ["SOURCE_TYPES", "FrameSource", "RawFrame", "build_source"]
