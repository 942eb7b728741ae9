"""Modbus TCP sink (pymodbus): sets a coil on the PLC (and resets it after ``pulse_ms``)."""

from __future__ import annotations

import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge_agent.config import ModbusSink
from edge_agent.errors import SinkError
from edge_agent.sinks.base import RejectSignal, Sink


class ModbusReject(Sink):
    def __init__(self, config: ModbusSink, name: str) -> None:
        self.name = name
        self.config = config
        self._client = ModbusTcpClient(config.host, port=config.port, timeout=config.timeout_s, retries=1)

    def open(self) -> None:
        if not self._client.connected and not self._client.connect():
            raise SinkError(f"modbus {self.config.host}:{self.config.port}: cannot connect")

    def _write(self, value: bool) -> None:
        try:
            result = self._client.write_coil(self.config.coil, value, device_id=self.config.device_id)
        except ModbusException as exc:
            self._client.close()
            raise SinkError(f"modbus {self.config.host}:{self.config.port}: {exc}") from exc
        if result.isError():
            raise SinkError(
                f"modbus {self.config.host}:{self.config.port}: coil {self.config.coil}: {result}"
            )

    def send(self, signal: RejectSignal) -> None:
        self.open()
        self._write(True)
        if self.config.pulse_ms is not None:
            time.sleep(self.config.pulse_ms / 1000)
            self._write(False)

    def close(self) -> None:
        self._client.close()
