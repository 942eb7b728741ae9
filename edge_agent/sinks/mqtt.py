"""MQTT sink (paho-mqtt 2): publishes the signal as JSON and waits for the broker's acknowledgement.

The connection (TLS, the user's password from the environment or a file) is :class:`MqttLink`'s. paho
reconnects by itself after a drop; a signal that finds the link down makes a fresh connection at once, so a
broker, password or CA fixed while the agent runs is picked up by the next signal (the failed ones are
counted as sink failures).
"""

from __future__ import annotations

import json
import logging

import paho.mqtt.client as mqtt

from edge_agent.config import MqttSink
from edge_agent.errors import SinkError
from edge_agent.plc import PlcError
from edge_agent.plc.mqtt_client import MqttLink
from edge_agent.sinks.base import RejectSignal, Sink

logger = logging.getLogger(__name__)


class MqttReject(Sink):
    def __init__(self, config: MqttSink, name: str) -> None:
        self.name = name
        self.config = config
        self._label = f"mqtt {config.host}:{config.port}"
        self._link = MqttLink(config, self._label, config.timeout_s)

    def open(self) -> None:
        if self._link.up:
            return
        try:
            self._link.connect()
        except PlcError as exc:
            raise SinkError(str(exc)) from exc

    def send(self, signal: RejectSignal) -> None:
        self.open()
        client = self._link.client
        if client is None:
            raise SinkError(f"{self._label}: not connected")
        info = client.publish(self.config.topic, json.dumps(signal.payload()), qos=self.config.qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise SinkError(f"{self._label}: publish failed: {mqtt.error_string(info.rc)}")
        info.wait_for_publish(timeout=self.config.timeout_s)
        if not info.is_published():
            raise SinkError(f"{self._label}: not acknowledged in {self.config.timeout_s}s")

    def close(self) -> None:
        self._link.close()
