"""Exceptions of the edge agent. Everything raised on purpose derives from :class:`AgentError`."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the edge agent raises on purpose."""


class AgentConfigError(AgentError):
    """The line YAML is invalid; ``problems`` lists ``path: message`` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid agent config:\n" + "\n".join(f"  {p}" for p in problems))


class UnknownSourceType(AgentError):
    """A source ``type`` has no registered implementation."""


class UnknownSinkType(AgentError):
    """A sink ``type`` has no registered implementation."""


class UnknownTriggerType(AgentError):
    """The line YAML names a trigger type that no plug-in registers."""


class TriggerError(AgentError):
    """The trigger device failed (PLC unreachable, node missing): the station reconnects with backoff."""


class SourceError(AgentError):
    """A frame source could not be opened or read."""


class DetectorError(AgentError):
    """An ONNX model could not be loaded or its output could not be decoded."""


class ModelRejected(AgentError):
    """A deployed model failed fetch, verification, load or smoke test; the old one keeps serving.

    ``reason`` names the check that refused it (``signature``, ``product``, ``fetch``, ``sha256``, ``load``,
    ``classes``, ``smoke``): the key of the ``models_rejected`` counts in heartbeats.
    """

    def __init__(self, message: str, reason: str = "other") -> None:
        super().__init__(message)
        self.reason = reason


class SinkError(AgentError):
    """A reject-signal sink failed to deliver."""


class BufferStoreError(AgentError):
    """The store-and-forward buffer failed (disk full, corrupt database)."""
