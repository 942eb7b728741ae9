"""Write latency of one reject record: the OPC UA sink against the Modbus sink, in one run.

    python bench/bench_opcua.py [--records 2000] [--warmup 100]

Each server runs in its own process on 127.0.0.1 (a PLC stand-in: asyncua.Server from
tests/integration/edge_agent/test_opcua_plc.py, and pymodbus's ModbusTcpServer), so the sink's process only
holds the client. ``sink.send`` is timed (what the sink worker waits for per record) for:

- **modbus** (the baseline): one coil write (``pulse_ms: null``; a pulse adds its sleep and a second write);
- **opcua**: verdict, part id and classes in one Write request, then ``seq`` in a second (security None);
- **opcua+strobe**: the same with a strobe: read it (the PLC reset it), write the record, then the strobe;
  the server's "PLC program" resets the strobe as soon as it is set;
- **opcua SignAndEncrypt**: the ``opcua`` record over Basic256Sha256 SignAndEncrypt with a user/password.

Prints p50 / p99 / max in ms, each p50/p99 as a ratio of the Modbus baseline, and the CPU the sink's
process spent per record (the client's cost on the agent's cores; the servers are elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo (edge_agent, tests)

from edge_agent.config.sinks import ModbusSink, OpcUaSink
from edge_agent.sinks import build_sink
from edge_agent.sinks.base import RejectSignal, Sink
from factoryloop.schemas import Verdict, utc_now
from factoryloop.stack.process import free_ports

PASSWORD_ENV = "FACTORYLOOP_BENCH_OPCUA_PASSWORD"


def wait_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def serve_opcua(port: int, pki: str | None, stop: Any) -> None:
    from asyncua import ua

    from tests.integration.edge_agent.test_opcua_plc import VARIABLES, CertPair, PlcServer

    kwargs: dict[str, Any] = {}
    if pki is not None:
        d = Path(pki)
        kwargs = {
            "server_cert": CertPair(d / "plc.der", d / "plc-key.pem", "urn:factoryloop:bench-plc"),
            "users": {"agent": "bench"},
        }
    server = PlcServer(port, VARIABLES, **kwargs).start()
    strobe = server._nodes["Strobe"]

    def plc_program(event: Any, _dispatcher: Any) -> None:  # the PLC takes each record at once
        for w in event.request_params.NodesToWrite:
            if w.NodeId.Identifier == "Strobe" and w.Value.Value.Value is True:
                server.loop.create_task(strobe.write_value(ua.Variant(False, ua.VariantType.Boolean)))

    from asyncua.common.callback import CallbackType

    assert server._server is not None
    server._server.subscribe_server_callback(CallbackType.PostWrite, plc_program)
    stop.wait()
    server.close()


def serve_modbus(port: int, stop: Any) -> None:
    from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
    from pymodbus.server import ModbusTcpServer

    context = ModbusServerContext(devices=ModbusDeviceContext(co=ModbusSequentialDataBlock(1, [False] * 32)))

    async def serve() -> None:
        server = ModbusTcpServer(context, address=("127.0.0.1", port))
        task = asyncio.create_task(server.serve_forever())
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await server.shutdown()
        task.cancel()

    asyncio.run(serve())


def make_pki(d: Path) -> None:
    from asyncua.crypto.cert_gen import (
        dump_private_key_as_pem,
        generate_private_key,
        generate_self_signed_app_certificate,
    )
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    for name, uri, use in (
        ("plc", "urn:factoryloop:bench-plc", ExtendedKeyUsageOID.SERVER_AUTH),
        ("agent", "urn:factoryloop:bench-agent", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = generate_private_key()
        sans = [x509.UniformResourceIdentifier(uri), x509.DNSName(socket.gethostname())]
        cert = generate_self_signed_app_certificate(key, name, {}, sans, [use])
        (d / f"{name}.der").write_bytes(cert.public_bytes(Encoding.DER))
        (d / f"{name}-key.pem").write_bytes(dump_private_key_as_pem(key))


def time_sends(sink: Sink, records: int, warmup: int) -> tuple[list[float], float]:
    """Each send's wall time (ms), and this process's CPU per record (ms, all its threads: the client's)."""
    out: list[float] = []
    cpu0 = 0.0
    for i in range(warmup + records):
        signal = RejectSignal(
            Verdict.FAIL,
            f"f{i}",
            str(100000 + i),
            "l1",
            "s1",
            ("dent",),
            utc_now(),
            time.monotonic(),
            f"e{i}",
        )
        if i == warmup:
            cpu0 = time.process_time()
        t0 = time.perf_counter()
        sink.send(signal)
        if i >= warmup:
            out.append((time.perf_counter() - t0) * 1000)
    cpu = (time.process_time() - cpu0) * 1000 / records
    sink.close()
    return out, cpu


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    args = ap.parse_args()
    os.environ[PASSWORD_ENV] = "bench"
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    pki = Path(tempfile.mkdtemp(prefix="bench-opcua-"))
    make_pki(pki)
    ports = {"modbus": free_ports(1)[0], "opcua": free_ports(1)[0], "secure": free_ports(1)[0]}
    procs = [
        ctx.Process(target=serve_modbus, args=(ports["modbus"], stop), daemon=True),
        ctx.Process(target=serve_opcua, args=(ports["opcua"], None, stop), daemon=True),
        ctx.Process(target=serve_opcua, args=(ports["secure"], str(pki), stop), daemon=True),
    ]
    for p in procs:
        p.start()
    for port in ports.values():
        wait_port(port)

    def opcua(port: int, **extra: Any) -> Sink:
        nodes = {"verdict": "ns=2;s=Verdict", "part_id": "ns=2;s=PartId", "classes": "ns=2;s=Classes"}
        nodes.update(extra.pop("nodes", {"seq": "ns=2;s=Seq"}))
        cfg = {"type": "opcua", "endpoint": f"opc.tcp://127.0.0.1:{port}/plc", "nodes": nodes, **extra}
        return build_sink(OpcUaSink.model_validate(cfg), 0)

    secure = {
        "security": {"policy": "Basic256Sha256", "mode": "SignAndEncrypt", "certificate": pki / "agent.der",
                     "private_key": pki / "agent-key.pem"},
        "username": "agent",
        "password_env": PASSWORD_ENV,
    }  # fmt: skip
    cases: dict[str, Sink] = {
        "modbus": build_sink(
            ModbusSink(type="modbus", host="127.0.0.1", port=ports["modbus"], coil=3, pulse_ms=None), 0
        ),
        "opcua": opcua(ports["opcua"]),
        "opcua+strobe": opcua(ports["opcua"], nodes={"strobe": "ns=2;s=Strobe"}),
        "opcua SignAndEncrypt": opcua(ports["secure"], **secure),
    }
    results: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    try:
        for name, sink in cases.items():
            results[name], cpu[name] = time_sends(sink, args.records, args.warmup)
    finally:
        stop.set()
        for p in procs:
            p.join(15)
    base50, base99 = pct(results["modbus"], 50), pct(results["modbus"], 99)
    print(f"{args.records} records each ({args.warmup} warm-up), servers in their own processes")
    print(
        f"{'sink':22s} {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} {'p50/modbus':>10s} {'p99/modbus':>10s}"
        f" {'client CPU ms/record':>21s}"
    )
    for name, ms in results.items():
        p50, p99 = pct(ms, 50), pct(ms, 99)
        print(
            f"{name:22s} {p50:7.2f} {p99:7.2f} {max(ms):7.2f} {p50 / base50:9.1f}x {p99 / base99:9.1f}x"
            f" {cpu[name]:21.2f}"
        )


if __name__ == "__main__":
    main()
