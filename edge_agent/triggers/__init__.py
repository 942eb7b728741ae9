"""Part triggers: an explicit registry from the config's ``type`` to the implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_agent.errors import UnknownTriggerType
from edge_agent.triggers.base import TriggerEvent, TriggerSource


def _timer(config: Any) -> TriggerSource:
    from edge_agent.triggers.timer import TimerTriggerSource

    return TimerTriggerSource(config)


TRIGGER_TYPES: dict[str, Callable[[Any], TriggerSource]] = {
    "timer": _timer,
}


def build_trigger(config: Any) -> TriggerSource:
    """Instantiate the trigger of ``config.type``; :class:`UnknownTriggerType` if none is registered."""
    kind = getattr(config, "type", None)
    try:
        factory = TRIGGER_TYPES[kind]  # type: ignore[index]
    except KeyError:
        raise UnknownTriggerType(
            f"unknown trigger type {kind!r}; known: {', '.join(sorted(TRIGGER_TYPES))}"
        ) from None
    return factory(config)


__all__ = ["TRIGGER_TYPES", "TriggerEvent", "TriggerSource", "build_trigger"]
