"""OPC UA reject sink against a real asyncua server on 127.0.0.1 (the PLC: tests/.../test_opcua_plc.py).

The PLC's side is played by the test: it reads back what the sink wrote (and in which Write requests), resets
the strobe, and restarts; a restart also ends the trigger's subscription, and the station's reopen works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("asyncua", reason="asyncua is not installed (pip install -c constraints.txt asyncua)")

from edge_agent.errors import SinkError, TriggerError
from edge_agent.sinks.base import RejectSignal, Sink, SinkWorker
from edge_agent.stats import AgentStats
from edge_agent.triggers.base import TriggerSource
from factoryloop.schemas import Verdict
from factoryloop.stack.process import free_ports
from tests.integration.edge_agent.test_opcua_plc import (
    VARIABLES,
    PlcServer,
    collect,
    run_plc,
    signal_,
    sinks,
    triggers,
    wait_until,
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
def sink_factory(plc: PlcServer) -> Iterator[Callable[..., Sink]]:
    yield from sinks(plc)


@pytest.fixture
def trigger_factory(plc: PlcServer) -> Iterator[Callable[..., TriggerSource]]:
    yield from triggers(plc)


# -- sink ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("nodes", "signal", "expected"),
    [
        (
            {
                "verdict": "nsu=urn:factoryloop:test-plc;s=Verdict",
                "part_id": "PartId",
                "classes": "Classes",
                "seq": "Seq",
            },
            signal_("P-77", classes=("dent", "scratch")),
            {"Verdict": "FAIL", "PartId": "P-77", "Classes": "dent,scratch", "Seq": 42},
        ),
        (
            {"verdict": "VerdictCode", "part_id": "PartNo", "classes": "ClassList", "seq": "Seq"},
            signal_("1234", Verdict.UNCERTAIN, ("crack", "dent")),
            {"VerdictCode": 2, "PartNo": 1234, "ClassList": ["crack", "dent"], "Seq": 42},
        ),
        (
            {"verdict": "Reject", "part_id": "PartId", "strobe": "Strobe"},
            signal_(None),
            {"Reject": True, "PartId": "", "Strobe": True},
        ),
    ],
    ids=["strings+seq", "integers+array", "boolean+strobe"],
)
def test_sink_writes_the_record_in_the_declared_types_and_the_completion_node_last(
    reset: PlcServer,
    sink_factory: Callable[..., Sink],
    nodes: dict[str, str],
    signal: RejectSignal,
    expected: dict[str, Any],
) -> None:
    reset.write("Seq", 41)  # the PLC's counter: the sink continues from it
    sink = sink_factory(**nodes)
    sink.open()
    sink.send(signal)
    assert {name: reset.read(name) for name in expected} == expected
    last = "Seq" if "seq" in nodes else "Strobe"
    *data, completion = reset.writes
    assert [[name for name, _, _ in req] for req in reset.writes][-1] == [last]
    assert {name for req in data for name, _, _ in req} == {
        nodes[r].rsplit("=", 1)[-1] for r in nodes if r not in ("seq", "strobe")
    }
    assert not any(stamped for req in reset.writes for _, _, stamped in req), (
        "values must carry no timestamps"
    )
    assert completion[0][1] == expected[last]


def test_sink_counter_wraps_and_strobe_waits_for_the_plc(
    reset: PlcServer, sink_factory: Callable[..., Sink]
) -> None:
    reset.write("Seq", 65535)
    sink = sink_factory(verdict="Verdict", seq="Seq", strobe="Strobe", config={"timeout_s": 0.5})
    sink.send(signal_("a"))
    assert (reset.read("Seq"), reset.read("Strobe")) == (1, True)  # UInt16 wraps to 1 (0 = no record yet)
    with pytest.raises(SinkError, match=r"Strobe.*still True.*the PLC has not taken it"):
        sink.send(signal_("b"))
    reset.write("Strobe", False)  # the PLC took the record
    sink.send(signal_("c"))
    assert (reset.read("Seq"), reset.read("Strobe")) == (2, True)


@pytest.mark.parametrize(
    ("nodes", "signal", "message"),
    [
        (
            {"verdict": "ns=2;s=Line9.Nope", "seq": "Seq"},
            signal_(),
            r"node verdict \(ns=2;s=Line9.Nope\) does not exist",
        ),
        (
            {"verdict": "Speed", "seq": "Seq"},
            signal_(),
            r"node verdict \(ns=2;s=Speed, Double\).*takes Boolean",
        ),
        (
            {"verdict": "Verdict", "seq": "PartId"},
            signal_(),
            r"node seq \(ns=2;s=PartId, String\).*takes Byte",
        ),
        (
            {"verdict": "Verdict", "strobe": "Seq"},
            signal_(),
            r"node strobe \(ns=2;s=Seq, UInt16\).*takes Boolean",
        ),
        (
            {"verdict": "Verdict", "classes": "PartNo", "seq": "Seq"},
            signal_(),
            r"node classes .*Int32.*String",
        ),
        (
            {"verdict": "Verdict", "part_id": "PartNo", "seq": "Seq"},
            signal_("SN-1"),
            r"part id 'SN-1' is not a number",
        ),
        ({"verdict": "Verdict", "part_id": "PartNo", "seq": "Seq"}, signal_("9999999999"), r"outside Int32"),
    ],
    ids=["missing", "double-verdict", "string-seq", "int-strobe", "int-classes", "text-id", "id-range"],
)
def test_sink_refuses_a_missing_node_or_the_wrong_type_naming_it(
    reset: PlcServer,
    sink_factory: Callable[..., Sink],
    nodes: dict[str, str],
    signal: RejectSignal,
    message: str,
) -> None:
    sink = sink_factory(**nodes)
    with pytest.raises(SinkError, match=message):
        sink.send(signal)
    assert reset.read("Seq") == 0  # nothing was completed


# -- restart ------------------------------------------------------------------------------------------------
def test_plc_restart_sink_reconnects_and_trigger_reports_then_reopens(
    sink_factory: Callable[..., Sink], trigger_factory: Callable[..., TriggerSource]
) -> None:
    server = PlcServer(free_ports(1)[0], VARIABLES).start()
    try:
        stats = AgentStats()
        worker = SinkWorker(
            sink_factory(server, verdict="Verdict", part_id="PartId", seq="Seq"), ("FAIL",), 8, stats
        )
        trigger = trigger_factory(server, part_present="Present", part_id="TriggerPartId", ack="Ack")
        trigger.open()
        worker.start()
        worker.submit(signal_("before"))
        wait_until(lambda: stats.get("sink_sent:opcua0") == 1)
        server.stop()
        with pytest.raises(TriggerError, match=r"connection lost|subscription ended"):
            while trigger.wait(0.5) is None:
                pass
        worker.submit(signal_("while-down"))
        wait_until(lambda: stats.get("sink_failures:opcua0") == 1)
        server.start()  # a fresh address space: Seq is 0 again
        worker.submit(signal_("after"))
        wait_until(lambda: stats.get("sink_sent:opcua0") == 2)
        server.stop()
        server.start()  # restarted again with no record in between: the next write finds a dead link
        worker.submit(signal_("after-again"))
        worker.close()
        assert (stats.get("sink_sent:opcua0"), stats.get("sink_failures:opcua0")) == (3, 1)
        assert (server.read("PartId"), server.read("Seq")) == ("after-again", 1)
        trigger.open()  # what the station does after a TriggerError
        events = collect(trigger, run_plc(server, [("P-1", 0)], "Present", "TriggerPartId"), 1)
        assert [e.part_id for e in events] == ["P-1"]
    finally:
        server.close()
