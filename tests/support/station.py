"""Real servers and a real model for the triggered station's tests: a Modbus PLC whose part-present input
follows the simulated conveyor, the mosquitto broker, an MQTT subscriber, and a "dark part" ONNX detector.

The PLC is a pymodbus TCP server (device id 0 answers every id): discrete input 0 is the part-present bit
(the light barrier), holding register 0 the part number, input register 0 the belt encoder (16 bit), coils
0-15 free for a reject sink; the values are the Python attributes of :class:`ModbusPlc`, served live.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from factoryloop.stack.process import free_ports
from tests.support.edge_onnx import CLASS_NAMES


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@contextmanager
def mosquitto(tmp: Path) -> Iterator[int]:
    """A mosquitto broker on a free port (skips the test when mosquitto is not installed)."""
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None
    )
    if binary is None:
        pytest.skip("mosquitto binary not installed (apt-get install mosquitto; ./dev setup does)")
    port = free_ports(1)[0]
    conf = tmp / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class MqttInbox:
    """Messages of one topic as they arrive: (JSON payload, time.monotonic() at arrival)."""

    messages: list[tuple[dict[str, Any], float]] = field(default_factory=list)

    def payloads(self) -> list[dict[str, Any]]:
        return [m for m, _t in self.messages]

    def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)


@contextmanager
def subscribed(port: int, topic: str) -> Iterator[MqttInbox]:
    import paho.mqtt.client as mqtt

    inbox = MqttInbox()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda _c, _u, msg: inbox.messages.append((json.loads(msg.payload), time.monotonic()))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not ready.wait(10):
            raise RuntimeError(f"could not subscribe to {topic} on 127.0.0.1:{port}")
        yield inbox
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def mqtt_publisher(port: int) -> Iterator[Any]:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


class ModbusPlc:
    """A Modbus TCP server whose part-present input, part number and encoder are these attributes."""

    def __init__(self) -> None:
        self.present = False
        self.part_number = 0
        self.encoder = 0
        self.port = free_ports(1)[0]
        self.reads = 0
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread = threading.Thread(target=self._serve, name="modbus-plc", daemon=True)

    async def _action(
        self, fc: int, start: int, address: int, _count: int, registers: list[int], _values: Any
    ) -> None:
        if fc == 2:
            registers[address - start] = int(self.present)
            self.reads += 1
        elif fc == 3:
            registers[address - start] = self.part_number & 0xFFFF
        elif fc == 4:
            registers[address - start] = self.encoder & 0xFFFF

    def _serve(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        bits, regs = DataType.BITS, DataType.REGISTERS
        device = SimDevice(
            id=0,
            simdata=(
                [SimData(0, count=16, datatype=bits)],
                [SimData(0, count=1, values=False, datatype=bits)],
                [SimData(0, count=16, datatype=regs)],
                [SimData(0, count=16, datatype=regs)],
            ),
            action=self._action,
        )

        async def serve() -> None:
            self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
            await self._server.serve_forever()

        self._loop.run_until_complete(serve())

    def __enter__(self) -> ModbusPlc:
        self._thread.start()
        wait_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        self._thread.join(10)


def dark_part_model(path: Path, threshold: float, imgsz: int = 160, gain: float = 200.0) -> Path:
    """A real ONNX detector for the conveyor's frames: one 'dent' box scored ``gain * (threshold - mean)``
    (clipped to 0..1) over the model input. Frames darker than ``threshold`` (a big dark defect painted on the
    part) fail; lighter ones pass."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nc, n = len(CLASS_NAMES), 32
    base = np.zeros((1, 4 + nc, n), np.float32)
    base[0, :4, :] = 10.0
    base[0, :4, 0] = (imgsz / 2, imgsz / 2, imgsz / 4, imgsz / 4)
    mask = np.zeros_like(base)
    mask[0, 4 + 1, 0] = 1.0  # the dent score of box 0
    inits = [
        numpy_helper.from_array(base, "base"),
        numpy_helper.from_array(mask, "mask"),
        numpy_helper.from_array(np.array(threshold, np.float32), "threshold"),
        numpy_helper.from_array(np.array(gain, np.float32), "gain"),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(1.0, np.float32), "hi"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Sub", ["threshold", "mean"], ["below"]),
        helper.make_node("Mul", ["below", "gain"], ["raw"]),
        helper.make_node("Clip", ["raw", "lo", "hi"], ["score"]),
        helper.make_node("Mul", ["mask", "score"], ["scored"]),
        helper.make_node("Add", ["base", "scored"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "dark_part",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(base.shape))],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {
        "imgsz": f"[{imgsz}, {imgsz}]",
        "stride": "32",
        "task": "detect",
        "names": repr(dict(enumerate(CLASS_NAMES))),
    }
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


#: A line whose parts are either clean or carry one big dark stain (about 40 % of them): a steady camera (no
#: pose jitter, vignette or lighting gradient) so that a frame's mean brightness tells the two apart.
DARK_DEFECT_LINE: dict[str, Any] = {
    "camera": {
        "width": 320,
        "height": 240,
        "noise_sigma": 1,
        "vignette": 0,
        "gradient": 0,
        "pose_jitter_px": 0,
        "pose_jitter_deg": 0,
    },
    "defects": {"stain": {"rate": 0.4, "size": [0.3, 0.4], "contrast": [150, 200]}},
}


def calibrated_dark_model(
    path: Path, images: list[np.ndarray], defective: list[bool], imgsz: int = 160
) -> Path:
    """:func:`dark_part_model` with its threshold halfway between the darkest clean part and the lightest
    defective one of ``images`` (model input means); fails when they overlap."""
    from edge_agent.detect.letterbox import prepare

    means = [float(prepare(img, imgsz).tensor.mean()) for img in images]
    bad = [m for m, d in zip(means, defective, strict=True) if d]
    good = [m for m, d in zip(means, defective, strict=True) if not d]
    assert bad and good, "the parts must include clean and defective ones"
    assert max(bad) < min(good), f"defective parts not darker than clean ones: {max(bad)} >= {min(good)}"
    return dark_part_model(path, (max(bad) + min(good)) / 2, imgsz, gain=2.0 / (min(good) - max(bad)))
