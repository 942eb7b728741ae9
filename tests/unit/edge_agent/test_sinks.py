"""Sinks: a failing or slow sink never blocks inspection; MQTT, Modbus and webhook against real servers."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import LogSink, ModbusSink, MqttSink, WebhookSink
from edge_agent.errors import UnknownSinkType
from edge_agent.sinks import build_sink
from edge_agent.sinks.base import RejectSignal, Sink, SinkWorker
from edge_agent.stats import AgentStats
from factoryloop.schemas import Verdict, utc_now


def signal_(verdict: Verdict = Verdict.FAIL, n: int = 0) -> RejectSignal:
    return RejectSignal(
        verdict, f"f{n}", f"item{n}", "l1", "s1", ("dent",), utc_now(), time.monotonic(), f"ev{n}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stuck(Sink):
    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def send(self, signal: RejectSignal) -> None:
        self.release.wait(10)
        raise ConnectionError("PLC unreachable")


def test_failing_sink_never_blocks_and_is_counted() -> None:
    stats = AgentStats()
    sink = Stuck()
    worker = SinkWorker(sink, ("FAIL",), queue_size=4, stats=stats)
    worker.start()
    t0 = time.monotonic()
    accepted = [worker.submit(signal_(n=i)) for i in range(100)]
    assert time.monotonic() - t0 < 0.5  # 100 submissions while the sink hangs: no waiting
    assert sum(accepted) <= 5
    sink.release.set()
    worker.close()
    assert stats.get("sink_failures:stuck") == 100  # dropped on a full queue + failed sends
    assert stats.get("sink_sent:stuck") == 0


def test_verdict_filter() -> None:
    stats = AgentStats()
    worker = SinkWorker(build_sink(LogSink(type="log"), 0), ("FAIL",), 8, stats)
    worker.start()
    assert not worker.submit(signal_(Verdict.PASS))
    assert worker.submit(signal_(Verdict.FAIL))
    worker.close()
    assert stats.get("sink_sent:log0") == 1 and len(stats.reject_ms) == 1


def test_unknown_sink() -> None:
    class Fake:
        type = "pigeon"

    with pytest.raises(UnknownSinkType):
        build_sink(Fake())


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None
    )
    if binary is None:
        pytest.skip("mosquitto binary not installed (apt-get install mosquitto) - MQTT sink not tested")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def test_mqtt_sink_against_a_real_broker(mosquitto: int) -> None:
    import paho.mqtt.client as mqtt

    got: list[dict[str, Any]] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe("line/reject", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, msg: got.append(json.loads(msg.payload))
    client.connect("127.0.0.1", mosquitto)
    client.loop_start()
    assert subscribed.wait(10)
    stats = AgentStats()
    worker = SinkWorker(
        build_sink(MqttSink(type="mqtt", host="127.0.0.1", port=mosquitto, topic="line/reject"), 0),
        ("FAIL",),
        16,
        stats,
    )
    worker.start()
    for i in range(5):
        worker.submit(signal_(n=i))
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.close()
    client.loop_stop()
    assert [g["frame_id"] for g in got] == [f"f{i}" for i in range(5)]
    assert got[0]["verdict"] == "FAIL" and stats.get("sink_sent:mqtt0") == 5


def test_mqtt_sink_with_no_broker_counts_failures() -> None:
    stats = AgentStats()
    cfg = MqttSink(type="mqtt", host="127.0.0.1", port=free_port(), timeout_s=0.3)
    worker = SinkWorker(build_sink(cfg, 0), ("FAIL",), 16, stats)
    worker.start()
    worker.submit(signal_())
    worker.close(timeout_s=5)
    assert stats.get("sink_failures:mqtt0") == 1


@pytest.fixture
def modbus_server() -> Iterator[tuple[int, Any]]:
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
    from pymodbus.server import ModbusTcpServer

    port = free_port()
    device = ModbusDeviceContext(co=ModbusSequentialDataBlock(1, [False] * 32))
    context = ModbusServerContext(devices=device, single=True)
    loop = asyncio.new_event_loop()
    servers: list[ModbusTcpServer] = []

    async def serve() -> None:
        servers.append(ModbusTcpServer(context, address=("127.0.0.1", port)))
        await servers[0].serve_forever()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield port, device
    asyncio.run_coroutine_threadsafe(servers[0].shutdown(), loop).result(10)
    thread.join(10)


def read_coil(port: int, address: int) -> bool:
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient("127.0.0.1", port=port)
    assert client.connect()
    try:
        return bool(client.read_coils(address, count=1).bits[0])
    finally:
        client.close()


def test_modbus_sink_sets_the_coil(modbus_server: tuple[int, Any]) -> None:
    port, _device = modbus_server
    stats = AgentStats()
    sink = build_sink(ModbusSink(type="modbus", host="127.0.0.1", port=port, coil=5, pulse_ms=None), 0)
    worker = SinkWorker(sink, ("FAIL",), 4, stats)
    worker.start()
    worker.submit(signal_())
    worker.close()
    assert stats.get("sink_sent:modbus0") == 1
    assert read_coil(port, 5) is True


def test_modbus_sink_pulse_resets(modbus_server: tuple[int, Any]) -> None:
    port, _device = modbus_server
    sink = build_sink(ModbusSink(type="modbus", host="127.0.0.1", port=port, coil=2, pulse_ms=20), 0)
    sink.send(signal_())
    sink.close()
    assert read_coil(port, 2) is False


def test_webhook_sink() -> None:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204 if len(bodies) == 1 else 500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stats = AgentStats()
    url = f"http://127.0.0.1:{server.server_port}/reject"
    worker = SinkWorker(build_sink(WebhookSink(type="webhook", url=url), 0), ("FAIL",), 4, stats)
    worker.start()
    worker.submit(signal_(n=1))
    worker.submit(signal_(n=2))
    worker.close()
    server.shutdown()
    assert [b["frame_id"] for b in bodies] == ["f1", "f2"]
    assert stats.get("sink_sent:webhook0") == 1 and stats.get("sink_failures:webhook0") == 1
