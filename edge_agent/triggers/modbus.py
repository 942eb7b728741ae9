"""Modbus TCP trigger (pymodbus): a rising edge of a part-present bit (discrete input or coil), polled.

The edge happened between two polls: its time is taken as their midpoint (within ``poll_ms / 2``). A bit that
is already set when the trigger (re)opens is not a part: only edges seen after the open count.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge_agent.config.triggers import ModbusTrigger
from edge_agent.errors import TriggerError
from edge_agent.triggers.base import TriggerEvent, TriggerSource
from factoryloop.schemas import utc_now


class ModbusTriggerSource(TriggerSource):
    def __init__(self, config: ModbusTrigger) -> None:
        self.config = config
        self.name = f"modbus:{config.host}:{config.port}/{config.table}:{config.address}"
        self._client: ModbusTcpClient | None = None
        self._last: bool | None = None
        self._last_poll = 0.0
        self._count = 0

    def _fail(self, what: str) -> TriggerError:
        return TriggerError(
            f"modbus trigger {self.config.host}:{self.config.port}: {what} "
            "(check the PLC address and that the device answers Modbus TCP)"
        )

    def _call(self, read: Any, address: int) -> Any:
        assert self._client is not None
        try:
            result = read(address, count=1, device_id=self.config.device_id)
        except ModbusException as exc:
            raise self._fail(str(exc)) from exc
        if result.isError():
            raise self._fail(f"reading address {address}: {result}")
        return result

    def _bit(self) -> bool:
        assert self._client is not None
        read = (
            self._client.read_discrete_inputs
            if self.config.table == "discrete_input"
            else self._client.read_coils
        )
        return bool(self._call(read, self.config.address).bits[0])

    def open(self) -> None:
        c = self.config
        self._client = ModbusTcpClient(c.host, port=c.port, timeout=c.timeout_s, retries=1)
        if not self._client.connect():
            self._client.close()
            self._client = None
            raise self._fail("cannot connect")
        self._last = self._bit()
        self._last_poll = time.monotonic()

    def wait(self, timeout_s: float) -> TriggerEvent | None:
        if self._client is None:
            raise self._fail("not open")
        deadline = time.monotonic() + timeout_s
        period = self.config.poll_ms / 1000
        while True:
            polled = time.monotonic()
            value = self._bit()
            rising = value and not self._last
            self._last, previous = value, self._last_poll
            self._last_poll = polled
            if rising:
                return self._event((previous + polled) / 2)
            if polled >= deadline:
                return None
            time.sleep(max(0.0, min(period - (time.monotonic() - polled), deadline - polled)))

    def _event(self, at_mono: float) -> TriggerEvent:
        assert self._client is not None
        c = self.config
        self._count += 1
        number = self._count
        if c.part_id_register is not None:
            number = self._call(self._client.read_holding_registers, c.part_id_register).registers[0]
        encoder = None
        if c.encoder_register is not None:
            encoder = self._call(self._client.read_input_registers, c.encoder_register).registers[0]
        at = utc_now() - timedelta(seconds=time.monotonic() - at_mono)
        return TriggerEvent(f"{c.part_prefix}{number}", at_mono, at, encoder)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
