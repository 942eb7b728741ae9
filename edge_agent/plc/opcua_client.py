"""One OPC UA session (asyncua) for a sink or trigger, run on an event loop thread this object owns.

The agent's sink workers and the station's capture thread are plain threads: every call here blocks for at
most ``timeout_s``. A lost connection is dropped (not retried in the background): the caller connects again
on its next use, so a PLC restart costs the calls made while it is down.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.common.ua_utils import data_type_to_variant_type

from edge_agent.config.opcua import OpcUaEndpoint
from edge_agent.plc import PlcError
from edge_agent.plc.loop import LoopThread
from edge_agent.plc.opcua_security import apply_security
from edge_agent.plc.opcua_values import NodeType

logger = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_TIMEOUT_MS = 60_000  # a crashed agent's session is freed on the PLC after a minute, not an hour
_AUTH = {"BadUserAccessDenied", "BadIdentityTokenInvalid", "BadIdentityTokenRejected"}
_CERT = {
    "BadSecurityChecksFailed",
    "BadCertificateUntrusted",
    "BadCertificateInvalid",
    "BadCertificateUriInvalid",
}
_SESSION = {"BadSessionIdInvalid", "BadSessionClosed", "BadSecureChannelIdInvalid", "BadSecureChannelClosed"}


def status_name(exc: ua.UaStatusCodeError) -> str:
    return ua.StatusCode(exc.code).name


class OpcUaSession:
    """Connect (with the configured security and user), describe nodes, and run calls with a timeout."""

    def __init__(self, config: OpcUaEndpoint, timeout_s: float, label: str) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self.label = label  # "opcua sink reject0 opc.tcp://..." in every message
        self._loop = LoopThread(f"opcua-{label}")
        self._client: Client | None = None
        self._ids: dict[str, ua.NodeId] = {}

    # -- connection -------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.uaclient.state is UaClientState.CONNECTED

    @property
    def client(self) -> Client:
        if self._client is None:
            raise PlcError(f"{self.label}: not connected")
        return self._client

    def connect(self) -> None:
        self.drop()
        client = self._new_client()
        try:
            self._loop.run(self._connect(client), self.timeout_s * 2)
        except Exception as exc:
            try:
                self._loop.run(self._quiet_drop(client), self.timeout_s)
            except Exception:
                logger.debug("%s: cleaning up a failed connect failed", self.label, exc_info=True)
            raise PlcError(f"{self.label}: cannot connect: {self.explain(exc)}") from exc
        self._client = client
        logger.info("%s: connected (security %s/%s)", self.label, *self._security())

    def _security(self) -> tuple[str, str]:
        return self.config.security.policy, self.config.security.mode

    def _new_client(self) -> Client:
        c = self.config
        client = Client(c.endpoint, timeout=self.timeout_s)
        client.session_timeout = SESSION_TIMEOUT_MS
        client.name = client.description = "factoryloop edge agent"
        if c.username is not None:
            assert c.password_env is not None
            password = os.environ.get(c.password_env)
            if password is None:
                raise PlcError(
                    f"{self.label}: the environment variable {c.password_env} (password_env) is not set: "
                    f"export the password of OPC UA user {c.username!r} in it"
                )
            client.set_user(c.username)
            client.set_password(password)
        return client

    async def _connect(self, client: Client) -> None:
        await apply_security(client, self.config.security)
        await client.connect()

    def drop(self) -> None:
        """Forget the connection (closing the session when the server still answers)."""
        client, self._client = self._client, None
        if client is not None:
            try:
                self._loop.run(self._quiet_drop(client), self.timeout_s)
            except Exception:
                logger.debug("%s: dropping the connection failed", self.label, exc_info=True)

    @staticmethod
    async def _quiet_drop(client: Client) -> None:
        if client.uaclient.state is UaClientState.CONNECTED:
            try:
                await client.close_session()
                await client.close_secure_channel()
            except Exception:
                logger.debug("closing the OPC UA session failed", exc_info=True)
        else:
            try:
                await client.close_session()  # cancels the client's own tasks; the request itself fails
            except Exception:
                logger.debug("OPC UA session already gone", exc_info=True)
        client.disconnect_socket()

    def close(self) -> None:
        self.drop()
        self._loop.stop()

    # -- calls ------------------------------------------------------------------------------------------
    def run(self, call: Callable[[Client], Awaitable[T]], what: str) -> T:
        """Run ``call(client)`` on the loop; any failure is a :class:`PlcError` and a lost link is dropped."""
        client = self.client

        async def go() -> T:
            return await call(client)

        try:
            return self._loop.run(go(), self.timeout_s)
        except PlcError:
            raise
        except Exception as exc:
            if (
                not isinstance(exc, ua.UaStatusCodeError)
                or status_name(exc) in _SESSION
                or not self.connected
            ):
                self.drop()
            raise PlcError(f"{self.label}: {what}: {self.explain(exc)}") from exc

    def node_id(self, node: NodeType) -> ua.NodeId:
        """The node's id as resolved by :meth:`describe` (``nsu=`` namespace URIs to this server's index)."""
        return self._ids[node.node_id]

    async def awrite(self, client: Client, items: Sequence[tuple[NodeType, object]]) -> None:
        """One Write request; values without timestamps (some PLCs refuse source timestamps)."""
        ids = [self.node_id(node) for node, _ in items]
        values = [ua.DataValue(ua.Variant(v, ua.VariantType[node.type_name])) for node, v in items]
        results = await client.uaclient.write_attributes(ids, values, ua.AttributeIds.Value)
        for (node, value), status in zip(items, results, strict=True):
            if not status.is_good():
                raise PlcError(
                    f"{self.label}: writing {value!r} to {node.label()}: {status.name}: {status.doc}"
                )

    async def aread(self, client: Client, nodes: Sequence[NodeType]) -> list[Any]:
        """One Read request of the nodes' values."""
        ids = [self.node_id(node) for node in nodes]
        results = await client.uaclient.read_attributes(ids, ua.AttributeIds.Value)
        for node, dv in zip(nodes, results, strict=True):
            if dv.StatusCode is not None and not dv.StatusCode.is_good():
                raise PlcError(f"{self.label}: reading {node.label()}: {dv.StatusCode.name}")
        return [None if dv.Value is None else dv.Value.Value for dv in results]

    def write(self, *batches: Sequence[tuple[NodeType, object]]) -> None:
        """One Write request per batch, each after the previous one succeeded (one hop to the loop)."""

        async def call(client: Client) -> None:
            for items in batches:
                await self.awrite(client, items)

        self.run(call, "writing " + ", ".join(n.role for items in batches for n, _ in items))

    def read(self, nodes: Sequence[NodeType]) -> list[Any]:
        return self.run(
            lambda client: self.aread(client, nodes), "reading " + ", ".join(n.role for n in nodes)
        )

    def describe(self, nodes: dict[str, str]) -> dict[str, NodeType]:
        """Each node's declared built-in type and rank; a missing node is an error naming it."""
        out: dict[str, NodeType] = {}
        for role, node_id in nodes.items():
            try:
                parsed = ua.NodeId.from_string(node_id)
            except Exception as exc:
                raise PlcError(f"{self.label}: node {role} ({node_id}): not a node id: {exc}") from exc

            async def read(
                client: Client, parsed: ua.NodeId = parsed
            ) -> tuple[ua.NodeId, ua.VariantType, int]:
                uri = getattr(parsed, "NamespaceUri", None)
                if uri:  # nsu=<uri>: the index the server gives that namespace now
                    parsed = ua.NodeId(parsed.Identifier, ua.Int16(await client.get_namespace_index(uri)))
                node = client.get_node(parsed)
                dtype = await node.read_data_type()
                vtype = await data_type_to_variant_type(client.get_node(dtype))
                rank = await node.read_attribute(ua.AttributeIds.ValueRank)
                return parsed, vtype, int(rank.Value.Value) if rank.Value is not None else -1

            try:
                resolved, vtype, rank = self.run(read, f"node {role} ({node_id})")
            except PlcError as exc:
                cause = exc.__cause__
                if isinstance(cause, ua.UaStatusCodeError) and status_name(cause) == "BadNodeIdUnknown":
                    raise PlcError(
                        f"{self.label}: node {role} ({node_id}) does not exist on the server: check the node "
                        "id in the line YAML against the PLC's address space"
                    ) from cause
                raise
            self._ids[node_id] = resolved
            out[role] = NodeType(role, node_id, vtype.name, rank >= 0)
        return out

    def explain(self, exc: BaseException) -> str:
        """A message that says what was wrong and what to check."""
        c = self.config
        if isinstance(exc, PlcError):
            return str(exc)
        if isinstance(exc, ua.UaStatusCodeError):
            name = status_name(exc)
            if name in _AUTH and c.username is not None:
                return (
                    f"{name}: the server refused user {c.username!r}: wrong username or password "
                    f"(the password is read from ${c.password_env})"
                )
            if name in _AUTH:
                return f"{name}: the server refuses anonymous clients: set username and password_env"
            if name in _CERT:
                return (
                    f"{name}: the server refused the client certificate {c.security.certificate}: trust it "
                    "on the PLC (its certificate manager), and check the application URI in its SAN"
                )
            return f"{name}: {exc}"
        if isinstance(exc, ua.UaError) and "No matching endpoints" in str(exc):
            return "the server offers no endpoint with security {}/{}: {}".format(*self._security(), exc)
        if isinstance(exc, TimeoutError | asyncio.TimeoutError | OSError | ConnectionError):
            return f"cannot reach {c.endpoint}: {exc!r} (is the PLC up and the port open?)"
        return repr(exc)
