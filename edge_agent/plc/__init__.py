"""PLC connections shared by the sinks and triggers that talk to PLCs (OPC UA)."""

from __future__ import annotations

from edge_agent.errors import AgentError


class PlcError(AgentError):
    """A PLC connection or node failed; the message names the endpoint or node and what to check."""


__all__ = ["PlcError"]
