"""Errors of the alerts: a bad rules file, an unknown rule or channel type."""

from __future__ import annotations

from api.errors import ApiError


class AlertConfigError(ApiError):
    """The alerts YAML is unreadable or invalid; ``errors`` names each problem by its YAML path."""

    code = "alert_config_error"

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: invalid alerts config:\n  " + "\n  ".join(errors))


class UnknownRuleError(ApiError):
    """An alert rule config whose ``type`` has no implementation in the registry."""


class UnknownChannelError(ApiError):
    """A notification channel config whose ``type`` has no implementation in the registry."""
