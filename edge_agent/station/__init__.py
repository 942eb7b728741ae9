"""A triggered station: part triggers, one frame per camera per part, and rejects timed to the ejector.

:class:`Station` is what the pipeline gets when the line YAML has a ``trigger``: the triggered capture, and
the ejector scheduler when it has an ``ejector`` (without one, a part's reject fires at its verdict).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.station.capture import TriggeredCapture
from edge_agent.station.ejector import Ejector


@dataclass(frozen=True)
class Station:
    capture: TriggeredCapture
    ejector: Ejector | None = None


__all__ = ["Ejector", "Station", "TriggeredCapture"]
