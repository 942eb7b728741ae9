"""Exception base of the simulated production line."""

from __future__ import annotations

from factoryloop.errors import FactoryloopError


class SimError(FactoryloopError):
    """The simulator was given an invalid configuration or request."""
