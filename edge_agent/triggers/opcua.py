"""OPC UA trigger (asyncua): one part per rising edge of a part-present node on the PLC.

``subscribe``: a data-change subscription (the server sends every change, queued, in order); the part id
and encoder are read when the edge arrives. ``poll``: the part-present, part-id and encoder nodes are read
together every ``poll_ms`` (one consistent snapshot; an edge is timed at the midpoint of two polls). Either
way the value at (re)connect is the baseline, never a part: a part already present when the agent connects
is not counted twice. With an ``ack`` node the trigger writes True once it has read a part and False after the
falling edge, so the PLC can hold the part id until the agent has it. Ids the PLC sends are used verbatim (a
sink writing them back gets the PLC's own number); without a part-id node they are ``<prefix><start>-<n>``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import time
from datetime import timedelta
from typing import Any

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent

from edge_agent.config.triggers import OpcUaTrigger
from edge_agent.errors import TriggerError
from edge_agent.plc import PlcError
from edge_agent.plc.opcua_client import OpcUaSession
from edge_agent.plc.opcua_values import TRIGGER_TYPES, Edges, NodeType, check_type, part_id_text
from edge_agent.triggers.base import TriggerEvent, TriggerSource
from factoryloop.schemas import utc_now

logger = logging.getLogger(__name__)
_QUEUE = 256  # changes the server may queue per publish (a burst of short pulses is not lost)


class OpcUaTriggerSource(TriggerSource):
    def __init__(self, config: OpcUaTrigger) -> None:
        self.config = config
        self.name = f"opcua:{config.endpoint}/{config.nodes.part_present}"
        self._roles = {k: v for k, v in config.nodes.model_dump().items() if v is not None}
        self._session: OpcUaSession | None = None
        self._types: dict[str, NodeType] = {}
        self._events: queue.SimpleQueue[TriggerEvent | PlcError] = queue.SimpleQueue()
        self._task: asyncio.Task[None] | None = None
        self._edges = Edges()
        self._last_poll = 0.0
        self._count = 0
        self._start = utc_now().strftime("%Y%m%d%H%M%S")

    # -- lifecycle ----------------------------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        session = OpcUaSession(self.config, self.config.timeout_s, f"opcua trigger {self.config.endpoint}")
        self._session = session
        try:
            session.connect()
            self._types = session.describe(self._roles)
            for node in self._types.values():
                check_type(node, TRIGGER_TYPES)
            if self.config.mode == "subscribe":
                session.run(self._subscribe, "subscribing to part_present")
            else:
                self._edges.update(session.read([self._types["part_present"]])[0])
                self._last_poll = time.monotonic()
        except PlcError as exc:
            self.close()
            raise TriggerError(str(exc)) from exc

    def close(self) -> None:
        session, self._session = self._session, None
        self._task = None
        self._edges = Edges()
        self._events = queue.SimpleQueue()
        if session is not None:
            session.close()  # cancels the consumer task with the loop

    # -- waiting ------------------------------------------------------------------------------------------
    def wait(self, timeout_s: float) -> TriggerEvent | None:
        session = self._session
        if session is None:
            raise TriggerError(f"opcua trigger {self.config.endpoint}: not open")
        try:
            if self.config.mode == "poll":
                return self._poll(session, timeout_s)
            return self._next(session, timeout_s)
        except PlcError as exc:
            raise TriggerError(str(exc)) from exc

    def _next(self, session: OpcUaSession, timeout_s: float) -> TriggerEvent | None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                item = self._events.get(timeout=max(0.0, min(0.25, deadline - time.monotonic())))
            except queue.Empty:
                if not session.connected:
                    raise PlcError(f"{session.label}: connection lost") from None
                if time.monotonic() >= deadline:
                    return None
                continue
            if isinstance(item, PlcError):
                raise item
            return item

    def _poll(self, session: OpcUaSession, timeout_s: float) -> TriggerEvent | None:
        deadline = time.monotonic() + timeout_s
        period = self.config.poll_ms / 1000
        order = [self._types[r] for r in ("part_present", "part_id", "encoder") if r in self._types]
        while True:
            polled = time.monotonic()
            values = dict(zip((n.role for n in order), session.read(order), strict=True))
            edge = self._edges.update(values["part_present"])
            previous, self._last_poll = self._last_poll, polled
            if edge == "falling" and "ack" in self._types:
                session.write([(self._types["ack"], False)])
            if edge == "rising":
                event = self._event((previous + polled) / 2, values.get("part_id"), values.get("encoder"))
                if "ack" in self._types:
                    session.write([(self._types["ack"], True)])
                return event
            if polled >= deadline:
                return None
            time.sleep(max(0.0, min(period - (time.monotonic() - polled), deadline - polled)))

    def _event(self, at_mono: float, part_id: Any, encoder: Any) -> TriggerEvent:
        self._count += 1
        text = part_id_text(part_id)
        if text is None:
            if "part_id" in self._types:
                logger.warning("%s: the PLC's part id is empty; making one", self.name)
            text = f"{self.config.part_prefix}{self._start}-{self._count}"
        at = utc_now() - timedelta(seconds=time.monotonic() - at_mono)
        return TriggerEvent(text, at_mono, at, int(encoder) if encoder is not None else None)

    # -- subscribe mode (on the session's event loop) -----------------------------------------------------
    async def _subscribe(self, client: Client) -> None:
        assert self._session is not None
        sub = await client.create_subscription(
            self.config.publishing_interval_ms,
            handler=None,
            queue_maxsize=10_000,  # the iterator's queue; beyond it the connection is dropped and reopened
            overflow=OverflowPolicy.DISCONNECT,
        )
        await sub.subscribe_data_change(
            client.get_node(self._session.node_id(self._types["part_present"])),
            queuesize=_QUEUE,
            sampling_interval=ua.Duration(0.0),
        )
        self._task = asyncio.create_task(self._consume(client, sub), name=f"{self.name} consumer")

    async def _consume(self, client: Client, sub: object) -> None:
        session, events = self._session, self._events
        assert session is not None
        extra = [self._types[r] for r in ("part_id", "encoder") if r in self._types]
        ack = self._types.get("ack")
        edges = Edges()
        try:
            async for ev in sub:  # type: ignore[attr-defined]
                at_mono = time.monotonic()
                if isinstance(ev, StatusChangeEvent):
                    events.put(
                        PlcError(f"{session.label}: subscription ended: {ev.notification.Status.name}")
                    )
                    return
                if not isinstance(ev, DataChangeEvent):
                    continue
                edge = edges.update(ev.value)
                if edge == "falling" and ack is not None:
                    await session.awrite(client, [(ack, False)])
                if edge != "rising":
                    continue
                values = await session.aread(client, extra) if extra else []
                got = dict(zip((n.role for n in extra), values, strict=True))
                events.put(self._event(at_mono, got.get("part_id"), got.get("encoder")))
                if ack is not None:
                    await session.awrite(client, [(ack, True)])
        except asyncio.CancelledError:
            raise
        except PlcError as exc:
            events.put(exc)
        except Exception as exc:
            events.put(PlcError(f"{session.label}: reading the part: {session.explain(exc)}"))
