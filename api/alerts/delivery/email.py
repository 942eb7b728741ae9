"""``email``: send the notice over SMTP (``smtplib``) to ``to``. The server, STARTTLS, the user and the
password (a secret from the environment) are API settings (``FACTORYLOOP_API_SMTP_*``)."""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from pydantic import Field, SecretStr

from api.alerts.delivery.base import Channel, ChannelConfigBase, DeliveryFailed, Notice


class EmailConfig(ChannelConfigBase):
    type: Literal["email"] = "email"
    to: tuple[str, ...] = Field(min_length=1, description="Recipients' addresses.")
    subject_prefix: str = Field(default="[factoryloop]", max_length=64)


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: SecretStr | None = None
    sender: str = "factoryloop@localhost"
    timeout_s: float = 10.0


def message(notice: Notice, sender: str, config: EmailConfig) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{config.subject_prefix} {notice.title}".strip()
    msg["From"] = sender
    msg["To"] = ", ".join(config.to)
    where = "/".join(x for x in (notice.line_id, notice.station_id) if x)
    lines = [
        notice.message,
        "",
        f"Rule: {notice.rule} ({notice.rule_type}), severity {notice.severity.value}",
        f"Subject: {notice.subject}" + (f" at {where}" if where else ""),
        f"Fired at: {notice.fired_at:%Y-%m-%d %H:%M:%S} UTC",
    ]
    if notice.resolved_at is not None:
        lines.append(f"Resolved at: {notice.resolved_at:%Y-%m-%d %H:%M:%S} UTC")
    lines += ["", "Evidence:", json.dumps(notice.evidence, indent=2, sort_keys=True, default=str)]
    msg.set_content("\n".join(lines))
    msg["X-Factoryloop-Alert-Id"] = str(notice.alert_id)
    return msg


class EmailChannel(Channel):
    config: EmailConfig

    def __init__(self, config: EmailConfig, server: SmtpServer) -> None:
        self.config = config
        self.server = server

    def send(self, notice: Notice) -> None:
        s = self.server
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.user:
                    smtp.login(s.user, s.password.get_secret_value() if s.password else "")
                smtp.send_message(message(notice, s.sender, self.config))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP {s.host}:{s.port} failed: {type(exc).__name__}: {exc}") from exc
