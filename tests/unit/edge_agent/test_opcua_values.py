"""Values for PLC nodes of the declared type, the record counter, and the edges of part-present."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.plc import PlcError
from edge_agent.plc.opcua_values import (
    SINK_TYPES,
    TRIGGER_TYPES,
    Edges,
    NodeType,
    check_type,
    classes_value,
    next_seq,
    part_id_text,
    part_id_value,
    verdict_value,
)

CODES = {"PASS": 0, "FAIL": 1, "UNCERTAIN": 2}


def node(type_name: str, role: str = "verdict", array: bool = False) -> NodeType:
    return NodeType(role, f"ns=2;s={role}", type_name, array)


@pytest.mark.parametrize(
    ("type_name", "verdict", "expected"),
    [
        ("String", "FAIL", "FAIL"),
        ("String", "UNCERTAIN", "UNCERTAIN"),
        ("Boolean", "FAIL", True),
        ("Boolean", "UNCERTAIN", True),
        ("Boolean", "PASS", False),
        ("Int16", "UNCERTAIN", 2),
        ("Byte", "PASS", 0),
    ],
)
def test_verdict_in_the_declared_type(type_name: str, verdict: str, expected: Any) -> None:
    assert verdict_value(node(type_name), verdict, CODES) == expected


def test_a_verdict_code_outside_the_type_is_refused() -> None:
    with pytest.raises(PlcError, match=r"verdict code of FAIL -1 is outside Byte \[0, 255\]"):
        verdict_value(node("Byte"), "FAIL", {**CODES, "FAIL": -1})


@pytest.mark.parametrize(
    ("type_name", "part_id", "expected"),
    [
        ("String", "SN-1", "SN-1"),
        ("String", None, ""),
        ("Int32", "1234", 1234),
        ("UInt64", None, 0),
        ("Int32", "SN-1", PlcError),
        ("UInt16", "70000", PlcError),
        ("UInt32", "-1", PlcError),
    ],
)
def test_part_id_in_the_declared_type(type_name: str, part_id: str | None, expected: Any) -> None:
    if expected is PlcError:
        with pytest.raises(PlcError, match=r"node part_id \(ns=2;s=part_id"):
            part_id_value(node(type_name, "part_id"), part_id)
    else:
        assert part_id_value(node(type_name, "part_id"), part_id) == expected


@pytest.mark.parametrize(("array", "expected"), [(False, "dent;scratch"), (True, ["dent", "scratch"])])
def test_classes_joined_or_as_an_array(array: bool, expected: Any) -> None:
    assert classes_value(node("String", "classes", array), ("dent", "scratch"), ";") == expected


@pytest.mark.parametrize(
    ("type_name", "current", "expected"),
    [
        ("UInt16", 0, 1),
        ("UInt16", 41, 42),
        ("UInt16", 65535, 1),
        ("Byte", 255, 1),
        ("SByte", 127, 1),
        ("Int16", -5, 1),
    ],
)
def test_record_counter_wraps_to_one(type_name: str, current: int, expected: int) -> None:
    assert next_seq(node(type_name, "seq"), current) == expected


@pytest.mark.parametrize(
    ("role", "type_name", "array", "table", "ok"),
    [
        ("verdict", "Double", False, SINK_TYPES, False),
        ("verdict", "String", True, SINK_TYPES, False),
        ("classes", "String", True, SINK_TYPES, True),
        ("classes", "Int32", False, SINK_TYPES, False),
        ("seq", "Boolean", False, SINK_TYPES, False),
        ("strobe", "Boolean", False, SINK_TYPES, True),
        ("part_present", "Int16", False, TRIGGER_TYPES, True),
        ("encoder", "Float", False, TRIGGER_TYPES, False),
        ("ack", "Boolean", False, TRIGGER_TYPES, True),
    ],
)
def test_check_type_table(role: str, type_name: str, array: bool, table: Any, ok: bool) -> None:
    n = node(type_name, role, array)
    if ok:
        check_type(n, table)
    else:
        with pytest.raises(PlcError, match=rf"node {role} \(ns=2;s={role}, {type_name}"):
            check_type(n, table)


@pytest.mark.parametrize(
    ("values", "edges"),
    [
        ([False, True, True, True, False, True], [None, "rising", None, None, "falling", "rising"]),
        ([True, True, False, True], [None, None, "falling", "rising"]),  # high at connect: not a part
        ([0, 3, 7, 0], [None, "rising", None, "falling"]),  # an integer level: nonzero is present
    ],
    ids=["held-high", "baseline-high", "integer"],
)
def test_edges_one_rising_per_part(values: list[Any], edges: list[str | None]) -> None:
    detector = Edges()
    assert [detector.update(v) for v in values] == edges


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("  ", None), (" SN-1 ", "SN-1"), (42, "42")])
def test_part_id_text(value: Any, expected: str | None) -> None:
    assert part_id_text(value) == expected
