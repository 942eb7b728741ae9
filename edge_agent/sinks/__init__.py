"""Reject-signal sinks: an explicit registry from the config's ``type`` to the implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_agent.errors import UnknownSinkType
from edge_agent.sinks.base import RejectSignal, Sink, SinkWorker


def _mqtt(config: Any, name: str) -> Sink:
    from edge_agent.sinks.mqtt import MqttReject

    return MqttReject(config, name)


def _modbus(config: Any, name: str) -> Sink:
    from edge_agent.sinks.modbus import ModbusReject

    return ModbusReject(config, name)


def _webhook(config: Any, name: str) -> Sink:
    from edge_agent.sinks.webhook import WebhookReject

    return WebhookReject(config, name)


def _opcua(config: Any, name: str) -> Sink:
    from edge_agent.sinks.opcua import OpcUaReject

    return OpcUaReject(config, name)


def _log(config: Any, name: str) -> Sink:
    from edge_agent.sinks.log import LogReject

    return LogReject(config, name)


SINK_TYPES: dict[str, Callable[[Any, str], Sink]] = {
    "mqtt": _mqtt,
    "modbus": _modbus,
    "webhook": _webhook,
    "log": _log,
    "opcua": _opcua,
}


def sink_name(config: Any, index: int) -> str:
    return config.name or f"{config.type}{index}"


def build_sink(config: Any, index: int = 0) -> Sink:
    kind = getattr(config, "type", None)
    try:
        factory = SINK_TYPES[kind]  # type: ignore[index]
    except KeyError:
        raise UnknownSinkType(f"unknown sink type {kind!r}; known: {', '.join(sorted(SINK_TYPES))}") from None
    return factory(config, sink_name(config, index))


__all__ = ["SINK_TYPES", "RejectSignal", "Sink", "SinkWorker", "build_sink", "sink_name"]
