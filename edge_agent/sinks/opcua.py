"""OPC UA sink (asyncua): writes one reject record to PLC nodes, then ``seq`` and/or ``strobe`` last.

A record is verdict, part id and classes in one Write request; then the record counter ``seq`` (+1) in a
second, then ``strobe`` (True) in a third, so the PLC sees a complete record when either changes. With a
strobe the sink first waits up to ``timeout_s`` for the PLC to have reset it (taken the previous record).
Node types are read once per connection and every value is converted to the declared type. A connection
found dead at a write (the PLC restarted since the last record) is made again and the record written once
more, with the same values; a PLC that is down makes the record fail (counted by the sink worker).
"""

from __future__ import annotations

import logging
import time

from edge_agent.config.sinks import OpcUaSink
from edge_agent.errors import SinkError
from edge_agent.plc import PlcError
from edge_agent.plc.opcua_client import OpcUaSession
from edge_agent.plc.opcua_values import (
    SINK_TYPES,
    NodeType,
    check_type,
    classes_value,
    next_seq,
    part_id_value,
    verdict_value,
)
from edge_agent.sinks.base import RejectSignal, Sink

logger = logging.getLogger(__name__)
_STROBE_POLL_S = 0.002


class OpcUaReject(Sink):
    def __init__(self, config: OpcUaSink, name: str) -> None:
        self.name = name
        self.config = config
        self._codes = config.verdict_codes.model_dump()
        self._roles = {k: v for k, v in config.nodes.model_dump().items() if v is not None}
        self._session = OpcUaSession(config, config.timeout_s, f"opcua sink {name} {config.endpoint}")
        self._types: dict[str, NodeType] = {}
        self._seq = 0

    def _connect(self) -> None:
        self._types = {}
        self._session.connect()
        try:
            types = self._session.describe(self._roles)
            for node in types.values():
                check_type(node, SINK_TYPES)
            if "seq" in types:
                (current,) = self._session.read([types["seq"]])
                self._seq = int(current or 0)
        except PlcError:
            self._session.drop()
            raise
        self._types = types

    def open(self) -> None:
        try:
            self._connect()
        except PlcError as exc:
            raise SinkError(str(exc)) from exc

    def send(self, signal: RejectSignal) -> None:
        try:
            fresh = not (self._session.connected and self._types)
            if fresh:
                self._connect()
            try:
                self._write(signal)
            except PlcError:
                if fresh or self._session.connected:
                    raise
                logger.info("%s: the connection was lost since the last record; reconnecting", self.name)
                self._connect()
                self._write(signal)
        except PlcError as exc:
            raise SinkError(str(exc)) from exc

    def _write(self, signal: RejectSignal) -> None:
        t = self._types
        data: list[tuple[NodeType, object]] = [
            (t["verdict"], verdict_value(t["verdict"], signal.verdict.value, self._codes))
        ]
        if "part_id" in t:
            data.append((t["part_id"], part_id_value(t["part_id"], signal.item_id)))
        if "classes" in t:
            data.append(
                (t["classes"], classes_value(t["classes"], signal.classes, self.config.classes_separator))
            )
        if "strobe" in t:
            self._wait_strobe_reset(t["strobe"])
        batches = [data]
        seq = next_seq(t["seq"], self._seq) if "seq" in t else None
        if seq is not None:
            batches.append([(t["seq"], seq)])
        if "strobe" in t:
            batches.append([(t["strobe"], True)])
        self._session.write(*batches)
        if seq is not None:
            self._seq = seq

    def _wait_strobe_reset(self, strobe: NodeType) -> None:
        deadline = time.monotonic() + self.config.timeout_s
        while self._session.read([strobe])[0]:
            if time.monotonic() >= deadline:
                raise PlcError(
                    f"{self._session.label}: {strobe.label()} is still True {self.config.timeout_s} s "
                    "after the last record: the PLC has not taken it (its program must reset the strobe "
                    "after reading the record)"
                )
            time.sleep(_STROBE_POLL_S)

    def close(self) -> None:
        self._session.close()
