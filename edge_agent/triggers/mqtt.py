"""MQTT trigger (paho-mqtt 2): each message on the topic is one part.

The trigger time is the message's arrival (paho's network thread), not when the station got to it. A JSON
object payload may carry the part id (``part_id_field``) and an encoder count (``encoder_field``); any other
payload is a part with an id made here (``<prefix><n>``). The connection (TLS, the user's password from the
environment or a file) is :class:`MqttLink`'s; the station's watchdog reopens the trigger after a loss.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.config.triggers import MqttTrigger
from edge_agent.errors import TriggerError
from edge_agent.plc import PlcError
from edge_agent.plc.mqtt_client import MqttLink
from edge_agent.triggers.base import TriggerEvent, TriggerSource
from factoryloop.schemas import utc_now

logger = logging.getLogger(__name__)


class MqttTriggerSource(TriggerSource):
    def __init__(self, config: MqttTrigger) -> None:
        self.config = config
        self.name = f"mqtt:{config.host}:{config.port}/{config.topic}"
        self._link: MqttLink | None = None
        self._subscribed = threading.Event()
        self._messages: queue.SimpleQueue[tuple[bytes, float, datetime]] = queue.SimpleQueue()
        self._count = 0

    def _on_up(self, client: mqtt.Client) -> None:
        client.subscribe(self.config.topic, qos=self.config.qos)  # again after every reconnect

    def _on_subscribe(
        self, _client: Any, _userdata: Any, _mid: Any, reasons: Any, _props: Any = None
    ) -> None:
        if any(r.is_failure for r in reasons):
            logger.warning("mqtt trigger %s: subscription refused: %s", self.name, reasons)
            return
        self._subscribed.set()  # ready once the broker has the subscription: no part is lost before it

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self._messages.put((bytes(message.payload), time.monotonic(), utc_now()))

    def open(self) -> None:
        c = self.config
        self.close()
        self._link = MqttLink(
            c,
            f"mqtt trigger {c.host}:{c.port} topic {c.topic}",
            c.timeout_s,
            on_up=self._on_up,
            on_down=self._subscribed.clear,
            on_message=self._on_message,
            on_subscribe=self._on_subscribe,
        )
        try:
            self._link.connect()
        except PlcError as exc:
            self.close()
            raise TriggerError(str(exc)) from exc
        if not self._subscribed.wait(c.timeout_s):
            self.close()
            raise self._fail(f"the broker did not confirm the subscription within {c.timeout_s}s")

    def _fail(self, what: str) -> TriggerError:
        return TriggerError(
            f"mqtt trigger {self.config.host}:{self.config.port} topic {self.config.topic}: {what} "
            "(check that the broker runs and the address in trigger: is right)"
        )

    def wait(self, timeout_s: float) -> TriggerEvent | None:
        if self._link is None:
            raise self._fail("not open")
        try:
            payload, at_mono, at = self._messages.get(timeout=timeout_s)
        except queue.Empty:
            if not self._subscribed.wait(self.config.timeout_s):
                raise self._fail("connection lost") from None
            return None
        part_id, encoder = self._parse(payload)
        return TriggerEvent(part_id, at_mono, at, encoder)

    def _parse(self, payload: bytes) -> tuple[str, int | None]:
        self._count += 1
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        part_id, encoder = None, None
        if isinstance(data, dict):
            part_id = data.get(self.config.part_id_field)
            raw = data.get(self.config.encoder_field)
            encoder = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if isinstance(part_id, str | int) and not isinstance(part_id, bool) and str(part_id):
            return str(part_id)[:128], encoder
        return f"{self.config.part_prefix}{self._count}", encoder

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._subscribed.clear()
