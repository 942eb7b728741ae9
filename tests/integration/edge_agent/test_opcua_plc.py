"""A real OPC UA server standing in for a PLC (asyncua.Server on 127.0.0.1, its own thread and event loop),
the PLC program's side of the handshakes, and factories of sinks and triggers pointed at it.

Shared by tests/integration/edge_agent/test_opcua*.py and bench/bench_opcua.py; nothing here is a test.
Nodes are ``ns=<idx>;s=<name>`` in the namespace ``urn:factoryloop:test-plc`` (the first registered: 2).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from asyncua import Server, ua
from asyncua.common.callback import CallbackType
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

from edge_agent.config.sinks import OpcUaSink
from edge_agent.config.triggers import OpcUaTrigger
from edge_agent.sinks import build_sink
from edge_agent.sinks.base import RejectSignal, Sink
from edge_agent.triggers import build_trigger
from edge_agent.triggers.base import TriggerEvent, TriggerSource
from factoryloop.schemas import Verdict, utc_now

T = TypeVar("T")
NS = "urn:factoryloop:test-plc"
V = ua.VariantType
VARIABLES: dict[str, tuple[ua.VariantType, Any, bool]] = {
    "Verdict": (V.String, "", False),
    "VerdictCode": (V.Int16, 0, False),
    "Reject": (V.Boolean, False, False),
    "PartId": (V.String, "", False),
    "PartNo": (V.Int32, 0, False),
    "Classes": (V.String, "", False),
    "ClassList": (V.String, [], True),
    "Seq": (V.UInt16, 0, False),
    "Strobe": (V.Boolean, False, False),
    "Speed": (V.Double, 0.0, False),
    "Present": (V.Boolean, False, False),
    "PresentInt": (V.Int16, 0, False),
    "TriggerPartId": (V.String, "", False),
    "TriggerPartNo": (V.UInt32, 0, False),
    "Encoder": (V.Int64, 0, False),
    "Ack": (V.Boolean, False, False),
}


@dataclass(frozen=True)
class CertPair:
    cert: Path  # DER
    key: Path  # PEM
    uri: str


class _Users:
    """Username/password check (asyncua UserManager protocol); anything else is refused."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class PlcServer:
    """Variables (name -> (VariantType, initial value, is array)) on an OPC UA server; start/stop/restart.

    With ``server_cert``: only Basic256Sha256 (Sign, SignAndEncrypt), the server's certificate, client
    certificates from ``trusted`` only, users from ``users`` (no anonymous). Else: security None, anonymous.
    """

    def __init__(
        self,
        port: int,
        variables: dict[str, tuple[ua.VariantType, Any, bool]],
        *,
        server_cert: CertPair | None = None,
        trusted: Path | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/plc"
        self.variables = variables
        self.server_cert = server_cert
        self.trusted = trusted
        self.users = users
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"plc-{port}", daemon=True)
        self._thread.start()
        self._server: Server | None = None
        self._nodes: dict[str, Any] = {}
        self.ns = 2
        self.writes: list[list[tuple[str, Any, bool]]] = []  # each client Write: (name, value, timestamped)

    def node_id(self, name: str) -> str:
        return f"ns={self.ns};s={name}"

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def start(self) -> PlcServer:
        self.call(self._start())
        return self

    async def _start(self) -> None:
        server = Server(user_manager=_Users(self.users) if self.users is not None else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("factoryloop test PLC")
        if self.server_cert is not None:
            await server.set_application_uri(self.server_cert.uri)
            await server.load_certificate(str(self.server_cert.cert))
            await server.load_private_key(str(self.server_cert.key))
            server.set_security_policy(
                [
                    ua.SecurityPolicyType.Basic256Sha256_Sign,
                    ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ]
            )
            if self.trusted is not None:
                store = TrustStore([self.trusted], [])
                await store.load()
                server.set_certificate_validator(
                    CertificateValidator(
                        CertificateValidatorOptions.TRUSTED_VALIDATION
                        | CertificateValidatorOptions.PEER_CLIENT,
                        store,
                    )
                )
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.users is not None:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        self.ns = await server.register_namespace(NS)
        plc = await server.nodes.objects.add_object(ua.NodeId("PLC", self.ns), "PLC")
        self._nodes = {}
        for name, (vtype, initial, array) in self.variables.items():
            node = await plc.add_variable(ua.NodeId(name, self.ns), name, ua.Variant(initial, vtype))
            if array:
                await node.write_value_rank(1)
            await node.set_writable()
            self._nodes[name] = node
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_write)
        await server.start()
        self._server = server

    def _on_write(self, event: Any, _dispatcher: Any) -> None:
        if event.is_external:
            self.writes.append(
                [
                    (w.NodeId.Identifier, w.Value.Value.Value, w.Value.SourceTimestamp is not None)
                    for w in event.request_params.NodesToWrite
                ]
            )

    def stop(self) -> None:
        if self._server is not None:
            self.call(self._server.stop())
            self._server = None

    def close(self) -> None:
        self.stop()
        self.call(self._cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @staticmethod
    async def _cancel_rest() -> None:
        """Sessions of clients that never closed keep timers; end them with the loop."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def read(self, name: str) -> Any:
        return self.call(self._nodes[name].read_value())

    def write(self, name: str, value: Any) -> None:
        vtype = self.variables[name][0]
        self.call(self._nodes[name].write_value(ua.Variant(value, vtype)))

    def wait_for(self, name: str, value: Any, timeout_s: float = 10.0) -> None:
        """Until the node holds ``value`` (a PLC program waiting for a handshake), by data-change events."""
        self.call(self._wait_for(name, value, timeout_s), timeout_s + 5)

    async def _wait_for(self, name: str, value: Any, timeout_s: float) -> None:
        deadline = self.loop.time() + timeout_s
        while await self._nodes[name].read_value() != value:
            if self.loop.time() > deadline:
                raise TimeoutError(f"{name} never became {value!r}")
            await asyncio.sleep(0.002)


# -- the agent's side: factories ----------------------------------------------------------------------------
def signal_(
    part: str | None = "1001", verdict: Verdict = Verdict.FAIL, classes: tuple[str, ...] = ("dent",)
) -> RejectSignal:
    return RejectSignal(verdict, "f1", part, "l1", "s1", classes, utc_now(), time.monotonic(), "ev1")


def _ids(server: PlcServer, nodes: dict[str, str]) -> dict[str, str]:
    """Variable names of the server, or whole node ids (containing '=') as given."""
    return {role: name if "=" in name else server.node_id(name) for role, name in nodes.items()}


def sinks(default: PlcServer) -> Iterator[Callable[..., Sink]]:
    """Body of a fixture: ``make(server=default, config={...}, **nodes)``; every sink made is closed after."""
    made: list[Sink] = []

    def make(server: PlcServer = default, config: dict[str, Any] | None = None, **nodes: str) -> Sink:
        cfg = {"type": "opcua", "endpoint": server.endpoint, "nodes": _ids(server, nodes), **(config or {})}
        sink = build_sink(OpcUaSink.model_validate(cfg), 0)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


def triggers(default: PlcServer) -> Iterator[Callable[..., TriggerSource]]:
    """Body of a fixture: ``make(server=default, mode=..., config={...}, **nodes)``; closed after."""
    made: list[TriggerSource] = []

    def make(
        server: PlcServer = default,
        mode: str = "subscribe",
        config: dict[str, Any] | None = None,
        **nodes: str,
    ) -> TriggerSource:
        cfg = {"type": "opcua", "endpoint": server.endpoint, "mode": mode, "nodes": _ids(server, nodes)}
        trigger = build_trigger(OpcUaTrigger.model_validate({**cfg, **(config or {})}))
        made.append(trigger)
        return trigger

    yield make
    for trigger in made:
        trigger.close()


# -- the PLC program's side ---------------------------------------------------------------------------------
def run_plc(
    server: PlcServer, parts: list[tuple[Any, int]], present: str, part_id: str | None, hold: int = 0
) -> threading.Thread:
    """A PLC program: per part write the id and encoder, raise part-present (re-written ``hold`` times while
    high: a held signal), wait for the trigger's ack, lower it, wait for the ack to drop."""
    on, off = (True, False) if server.variables[present][0] == V.Boolean else (1, 0)

    def program() -> None:
        for pid, enc in parts:
            if part_id is not None:
                server.write(part_id, pid)
            server.write("Encoder", enc)
            for _ in range(1 + hold):
                server.write(present, on)
            server.wait_for("Ack", True)
            server.write(present, off)
            server.wait_for("Ack", False)

    thread = threading.Thread(target=program, daemon=True)
    thread.start()
    return thread


def collect(trigger: TriggerSource, plc_thread: threading.Thread, n: int) -> list[TriggerEvent]:
    """Events until the PLC program is done (poll mode sees the last falling edge only inside wait)."""
    events: list[TriggerEvent] = []
    deadline = time.monotonic() + 60
    while (plc_thread.is_alive() or len(events) < n) and time.monotonic() < deadline:
        event = trigger.wait(0.2)
        if event is not None:
            events.append(event)
    plc_thread.join(5)
    return events


def wait_until(cond: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)
