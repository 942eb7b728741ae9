"""The station of a line YAML with a ``trigger``: the watched trigger, a camera per source, the ejector."""

from __future__ import annotations

import threading
from collections.abc import Callable

from edge_agent.config import AgentConfig, ReconnectConfig
from edge_agent.sinks.base import SinkWorker
from edge_agent.sources.watchdog import WatchedSource
from edge_agent.station import Station
from edge_agent.station.capture import Camera, TriggeredCapture, camera_for
from edge_agent.station.ejector import Ejector
from edge_agent.station.watch import WatchedTrigger
from edge_agent.stats import AgentStats
from edge_agent.triggers import build_trigger


def build_station(
    config: AgentConfig,
    sources: list[WatchedSource],
    sinks: list[SinkWorker],
    stats: AgentStats,
    stop: threading.Event,
    camera_stop: threading.Event,
    on_trigger_status: Callable[[bool, str], None] | None = None,
) -> Station | None:
    """``None`` for a free-running station (no ``trigger``). ``sources`` run on ``camera_stop``: set by the
    station after its last part (free-running sources run on the agent's ``stop``)."""
    if config.trigger is None:
        return None
    reconnect = getattr(config.trigger, "reconnect", None) or ReconnectConfig()
    trigger = WatchedTrigger(build_trigger(config.trigger), reconnect, stop, on_trigger_status)
    cameras: list[Camera] = [camera_for(cfg, src) for cfg, src in zip(config.cameras, sources, strict=True)]
    ejector = None
    if config.ejector is not None:
        ejector = Ejector(config.ejector, sinks, stats, config.line_id, config.station_id)
    return Station(TriggeredCapture(trigger, cameras, camera_stop), ejector)
