"""``webhook``: POST the notice as JSON (``{"event": ..., "alert": {...}}``) to a URL; any 2xx is success."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import Field

from api.alerts.delivery.base import Channel, ChannelConfigBase, DeliveryFailed, Notice


class WebhookConfig(ChannelConfigBase):
    type: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict, description="E.g. an Authorization header.")


class WebhookChannel(Channel):
    config: WebhookConfig

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    def send(self, notice: Notice) -> None:
        c = self.config
        body = {"event": notice.event, "title": notice.title, "alert": notice.as_json()}
        try:
            resp = httpx.post(c.url, json=body, headers=c.headers, timeout=c.timeout_s)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"POST {c.url} failed: {type(exc).__name__}: {exc}") from exc
        if not resp.is_success:
            raise DeliveryFailed(f"POST {c.url} answered {resp.status_code}: {resp.text[:200]}")
