"""OPC UA part trigger against a real asyncua server on 127.0.0.1 (the PLC: tests/.../test_opcua_plc.py).

The test plays the PLC program: it writes the part id and encoder, raises part-present (and keeps writing it
high: one part), waits for the trigger's ack, lowers it and waits for the ack to drop, part after part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("asyncua", reason="asyncua is not installed (pip install -c constraints.txt asyncua)")

from edge_agent.errors import TriggerError
from edge_agent.triggers.base import TriggerSource
from factoryloop.stack.process import free_ports
from tests.integration.edge_agent.test_opcua_plc import (
    VARIABLES,
    PlcServer,
    collect,
    run_plc,
    triggers,
)


@pytest.fixture(scope="module")
def plc() -> Iterator[PlcServer]:
    server = PlcServer(free_ports(1)[0], VARIABLES).start()
    yield server
    server.close()


@pytest.fixture
def reset(plc: PlcServer) -> PlcServer:
    for name, (_vtype, initial, _array) in VARIABLES.items():
        plc.write(name, initial)
    plc.writes.clear()
    return plc


@pytest.fixture
def trigger_factory(plc: PlcServer) -> Iterator[Callable[..., TriggerSource]]:
    yield from triggers(plc)


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
@pytest.mark.parametrize(
    ("present", "part_id", "ids", "expected"),
    [
        ("Present", "TriggerPartId", ["SN-1", "SN-2", "SN-3", "SN-4"], ["SN-1", "SN-2", "SN-3", "SN-4"]),
        ("PresentInt", "TriggerPartNo", [7, 8, 9, 4000000000], ["7", "8", "9", "4000000000"]),
    ],
    ids=["bool+string", "int+uint32"],
)
def test_trigger_one_event_per_rising_edge_with_the_plcs_id_in_order(
    reset: PlcServer,
    trigger_factory: Callable[..., TriggerSource],
    mode: str,
    present: str,
    part_id: str,
    ids: list[Any],
    expected: list[str],
) -> None:
    reset.write(present, True if present == "Present" else 1)  # high at connect: a baseline, not a part
    trigger = trigger_factory(mode=mode, part_present=present, part_id=part_id, encoder="Encoder", ack="Ack")
    trigger.open()
    reset.write(present, False if present == "Present" else 0)
    # The trigger sees the low level before the first part is raised: in poll mode a low shorter than one
    # poll is not seen (the rising edge of the first part would then be missed, the PLC left waiting for Ack).
    assert trigger.wait(0.5) is None
    parts = [(pid, 100 * i) for i, pid in enumerate(ids)]
    events = collect(trigger, run_plc(reset, parts, present, part_id, hold=3), len(parts))
    assert [e.part_id for e in events] == expected
    assert [e.encoder for e in events] == [enc for _, enc in parts]
    assert [e.at_mono for e in events] == sorted(e.at_mono for e in events)


def test_trigger_makes_unique_ids_without_a_part_id_node(
    reset: PlcServer, trigger_factory: Callable[..., TriggerSource]
) -> None:
    trigger = trigger_factory(  # the namespace by its URI: the index the server gives it is looked up
        part_present="nsu=urn:factoryloop:test-plc;s=Present", ack="Ack", config={"part_prefix": "L1-"}
    )
    trigger.open()
    events = collect(trigger, run_plc(reset, [(None, 0)] * 3, "Present", None), 3)
    assert len(events) == 3 and len({e.part_id for e in events}) == 3
    assert all(e.part_id.startswith("L1-") and e.encoder is None for e in events)


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ({"part_present": "ns=2;s=Nope"}, r"node part_present \(ns=2;s=Nope\) does not exist"),
        ({"part_present": "Speed"}, r"node part_present \(ns=2;s=Speed, Double\)"),
        ({"part_present": "Present", "encoder": "PartId"}, r"node encoder \(ns=2;s=PartId, String\)"),
        ({"part_present": "Present", "ack": "Seq"}, r"node ack \(ns=2;s=Seq, UInt16\)"),
    ],
    ids=["missing", "double-present", "string-encoder", "int-ack"],
)
def test_trigger_refuses_a_missing_node_or_the_wrong_type(
    plc: PlcServer, trigger_factory: Callable[..., TriggerSource], nodes: dict[str, str], message: str
) -> None:
    with pytest.raises(TriggerError, match=message):
        trigger_factory(**nodes).open()
