"""MQTT sink (paho-mqtt 2): publishes the signal as JSON and waits for the broker's acknowledgement."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.config import MqttSink
from edge_agent.errors import SinkError
from edge_agent.sinks.base import RejectSignal, Sink

logger = logging.getLogger(__name__)


class MqttReject(Sink):
    def __init__(self, config: MqttSink, name: str) -> None:
        self.name = name
        self.config = config
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=config.client_id or "")
        if config.username:
            self._client.username_pw_set(config.username, config.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._started = False
        self._connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_args: self._connected.clear()

    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None) -> None:
        if not reason.is_failure:
            self._connected.set()

    def open(self) -> None:
        if not self._started:
            self._client.connect_async(self.config.host, self.config.port, keepalive=30)
            self._client.loop_start()
            self._started = True
        if not self._connected.wait(self.config.timeout_s):
            raise SinkError(f"mqtt {self.config.host}:{self.config.port}: not connected")

    def send(self, signal: RejectSignal) -> None:
        self.open()
        info = self._client.publish(self.config.topic, json.dumps(signal.payload()), qos=self.config.qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise SinkError(
                f"mqtt {self.config.host}:{self.config.port}: publish failed: {mqtt.error_string(info.rc)}"
            )
        info.wait_for_publish(timeout=self.config.timeout_s)
        if not info.is_published():
            raise SinkError(
                f"mqtt {self.config.host}:{self.config.port}: not acknowledged in {self.config.timeout_s}s"
            )

    def close(self) -> None:
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()
            self._started = False
