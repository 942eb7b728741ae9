"""The Modbus and MQTT part triggers against a real Modbus TCP server and a real mosquitto broker, and the
trigger watchdog's reconnect."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from edge_agent.config.sources import ReconnectConfig
from edge_agent.config.triggers import ModbusTrigger, MqttTrigger
from edge_agent.errors import TriggerError
from edge_agent.station.watch import WatchedTrigger
from edge_agent.triggers import build_trigger
from edge_agent.triggers.base import TriggerEvent
from factoryloop.stack.process import free_ports
from tests.support.station import ModbusPlc, mosquitto, mqtt_publisher


def modbus(port: int, **kw: object) -> ModbusTrigger:
    return ModbusTrigger.model_validate(
        {"type": "modbus", "host": "127.0.0.1", "port": port, "poll_ms": 1, **kw}
    )


def pulse(plc: ModbusPlc, number: int, encoder: int = 0, high_s: float = 0.03) -> None:
    plc.part_number, plc.encoder = number, encoder
    plc.present = True
    time.sleep(high_s)
    plc.present = False
    time.sleep(high_s)


def test_modbus_trigger_fires_once_per_rising_edge_with_the_plcs_part_number() -> None:
    with ModbusPlc() as plc:
        plc.present = True  # a part already at the sensor when the station starts: not a trigger
        trigger = build_trigger(modbus(plc.port, part_id_register=0, encoder_register=0, part_prefix="plc-"))
        trigger.open()
        try:
            assert trigger.wait(0.05) is None
            plc.present = False
            assert trigger.wait(0.05) is None  # sees it low: the next pulse is an edge
            got: list[TriggerEvent] = []
            pulses = threading.Thread(target=lambda: [pulse(plc, n, n * 100) for n in (17, 18, 19)])
            pulses.start()
            while len(got) < 3 and (ev := trigger.wait(2.0)) is not None:
                got.append(ev)
            pulses.join()
            assert trigger.wait(0.05) is None  # the bit stays low: no more parts
        finally:
            trigger.close()
    assert [(e.part_id, e.encoder) for e in got] == [("plc-17", 1700), ("plc-18", 1800), ("plc-19", 1900)]
    assert [e.at_mono for e in got] == sorted(e.at_mono for e in got)


def test_modbus_trigger_numbers_parts_itself_and_reads_a_coil() -> None:
    from pymodbus.client import ModbusTcpClient

    with ModbusPlc() as plc:
        trigger = build_trigger(modbus(plc.port, table="coil", address=3))
        trigger.open()
        writer = ModbusTcpClient("127.0.0.1", port=plc.port)
        assert writer.connect()
        try:
            ids = []
            for _ in range(2):
                writer.write_coil(3, True, device_id=1)
                ev = trigger.wait(2.0)
                writer.write_coil(3, False, device_id=1)
                assert trigger.wait(0.05) is None
                ids.append(ev.part_id if ev else None)
        finally:
            writer.close()
            trigger.close()
    assert ids == ["part-1", "part-2"]


def test_modbus_trigger_without_a_plc_raises_a_trigger_error() -> None:
    trigger = build_trigger(modbus(free_ports(1)[0], timeout_s=0.2))
    with pytest.raises(TriggerError, match="cannot connect"):
        trigger.open()


@pytest.mark.parametrize(
    ("payload", "part_id", "encoder"),
    [
        (json.dumps({"part_id": "A-17", "encoder": 1234}), "A-17", 1234),
        (json.dumps({"part_id": 42}), "42", None),
        (json.dumps({"other": 1}), "part-1", None),  # no id: made by the trigger
        (b"\x00not json", "part-1", None),
        (json.dumps({"part_id": True, "encoder": "x"}), "part-1", None),  # wrong types are ignored
    ],
)
def test_mqtt_trigger_takes_the_part_id_from_the_payload(
    tmp_path: Path, payload: str | bytes, part_id: str, encoder: int | None
) -> None:
    with mosquitto(tmp_path) as port, mqtt_publisher(port) as pub:
        trigger = build_trigger(MqttTrigger(type="mqtt", host="127.0.0.1", port=port, topic="line/part"))
        trigger.open()
        try:
            sent = time.monotonic()
            pub.publish("line/part", payload, qos=1).wait_for_publish(5)
            ev = trigger.wait(5.0)
        finally:
            trigger.close()
    assert ev is not None and (ev.part_id, ev.encoder) == (part_id, encoder)
    assert ev.at_mono >= sent  # the arrival, not when wait() returned


def test_mqtt_trigger_without_a_broker_raises_a_trigger_error() -> None:
    trigger = build_trigger(MqttTrigger(type="mqtt", host="127.0.0.1", port=free_ports(1)[0], timeout_s=0.3))
    with pytest.raises(TriggerError, match="cannot reach the broker"):
        trigger.open()


def test_the_watchdog_opens_with_backoff_until_the_plc_answers_and_reports_it() -> None:
    plc = ModbusPlc()
    stop = threading.Event()
    status: list[bool] = []
    watched = WatchedTrigger(
        build_trigger(modbus(plc.port, timeout_s=0.2)),
        ReconnectConfig(initial_backoff_s=0.05, max_backoff_s=0.2),
        stop,
        on_status=lambda up, _detail: status.append(up),
    )
    got: list[str] = []

    def consume() -> None:
        for ev in watched.events():
            got.append(ev.part_id)
            stop.set()

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.5)  # the PLC is not there yet: the watchdog retries
    assert not watched.stats.connected
    with plc:
        while not watched.stats.connected and thread.is_alive():
            time.sleep(0.02)
        pulse(plc, 1)
        thread.join(10)
    assert got == ["part-1"] and status == [True, False]
