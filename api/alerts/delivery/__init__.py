"""Notification channels: one module per type, configs in a discriminated union on ``type``, an explicit
registry, and the dispatcher that delivers off the evaluator's thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from api.alerts.delivery.base import Channel, ChannelConfigBase, DeliveryFailed, Notice
from api.alerts.delivery.email import EmailChannel, EmailConfig, SmtpServer
from api.alerts.delivery.webhook import WebhookChannel, WebhookConfig
from api.alerts.errors import UnknownChannelError

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelConfig",
    "DeliveryFailed",
    "Notice",
    "SmtpServer",
    "build_channel",
]

ChannelConfig = Annotated[WebhookConfig | EmailConfig, Field(discriminator="type")]


def _email(config: Any, smtp: SmtpServer | None) -> Channel:
    if smtp is None:
        raise UnknownChannelError(
            f"e-mail channel {config.name!r} needs an SMTP server: set FACTORYLOOP_API_SMTP_HOST (and _PORT, "
            "_STARTTLS, _USER, _PASSWORD, _FROM as the server needs)",
            code="smtp_not_configured",
        )
    return EmailChannel(config, smtp)


CHANNELS: dict[str, Callable[[Any, SmtpServer | None], Channel]] = {
    "webhook": lambda c, _smtp: WebhookChannel(c),
    "email": _email,
}


def build_channel(config: ChannelConfigBase, smtp: SmtpServer | None) -> Channel:
    kind = getattr(config, "type", None)
    factory = CHANNELS.get(str(kind))
    if factory is None:
        raise UnknownChannelError(f"unknown channel type {kind!r}; known: {', '.join(sorted(CHANNELS))}")
    return factory(config, smtp)
