"""HTTP webhook sink (httpx): POSTs the signal as JSON; any non-2xx status is a failure."""

from __future__ import annotations

import httpx

from edge_agent.config import WebhookSink
from edge_agent.errors import SinkError
from edge_agent.sinks.base import RejectSignal, Sink


class WebhookReject(Sink):
    def __init__(self, config: WebhookSink, name: str) -> None:
        self.name = name
        self.config = config
        self._client = httpx.Client(timeout=config.timeout_s, headers=config.headers)

    def send(self, signal: RejectSignal) -> None:
        try:
            response = self._client.post(self.config.url, json=signal.payload())
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SinkError(f"webhook {self.config.url}: {exc}") from exc

    def close(self) -> None:
        self._client.close()
