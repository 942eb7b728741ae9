"""Values for PLC nodes of the data type the server declares (read once at connect): pure functions.

Types are OPC UA built-in type names (``asyncua.ua.VariantType`` member names): a PLC's ``INT`` is ``Int16``,
``DINT`` ``Int32``, ``BOOL`` ``Boolean``, ``STRING`` ``String``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge_agent.plc import PlcError

INT_RANGES: dict[str, tuple[int, int]] = {
    "SByte": (-(2**7), 2**7 - 1),
    "Byte": (0, 2**8 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt64": (0, 2**64 - 1),
}
INTS = frozenset(INT_RANGES)

# What each role accepts; ``classes`` alone may also be a one-dimensional array (of String).
SINK_TYPES: dict[str, frozenset[str]] = {
    "verdict": frozenset({"String", "Boolean"}) | INTS,
    "part_id": frozenset({"String"}) | INTS,
    "classes": frozenset({"String"}),
    "seq": INTS,
    "strobe": frozenset({"Boolean"}),
}
TRIGGER_TYPES: dict[str, frozenset[str]] = {
    "part_present": frozenset({"Boolean"}) | INTS,
    "part_id": frozenset({"String"}) | INTS,
    "encoder": INTS,
    "ack": frozenset({"Boolean"}),
}
ARRAY_OK = frozenset({"classes"})


@dataclass(frozen=True, slots=True)
class NodeType:
    """A configured node as the server declares it."""

    role: str  # the key in the YAML's ``nodes``: verdict, part_id, ...
    node_id: str
    type_name: str  # a VariantType member name
    array: bool  # ValueRank >= 0: an array

    def label(self) -> str:
        kind = f"{self.type_name}[]" if self.array else self.type_name
        return f"node {self.role} ({self.node_id}, {kind})"


def check_type(node: NodeType, accepted: dict[str, frozenset[str]]) -> None:
    """Refuse a node whose declared type the role cannot take, naming the node and what it should be."""
    allowed = accepted[node.role]
    if node.type_name in allowed and (not node.array or node.role in ARRAY_OK):
        return
    want = ", ".join(sorted(allowed)) + (" (or an array of String)" if node.role in ARRAY_OK else "")
    raise PlcError(f"{node.label()}: the server declares this type; {node.role} takes {want}")


def _int(node: NodeType, value: int, what: str) -> int:
    lo, hi = INT_RANGES[node.type_name]
    if not lo <= value <= hi:
        raise PlcError(f"{node.label()}: {what} {value} is outside {node.type_name} [{lo}, {hi}]")
    return value


def verdict_value(node: NodeType, verdict: str, codes: dict[str, int]) -> object:
    """String: the name; Boolean: True unless PASS (a reject); integer: ``codes[verdict]``."""
    if node.type_name == "String":
        return verdict
    if node.type_name == "Boolean":
        return verdict != "PASS"
    return _int(node, codes[verdict], f"verdict code of {verdict}")


def part_id_value(node: NodeType, part_id: str | None) -> object:
    """String: the id ('' when none); integer: the id as a number (0 when none)."""
    if node.type_name == "String":
        return part_id or ""
    if not part_id:
        return 0
    try:
        number = int(part_id)
    except ValueError:
        raise PlcError(
            f"{node.label()}: part id {part_id!r} is not a number; use a String node for such ids"
        ) from None
    return _int(node, number, "part id")


def classes_value(node: NodeType, classes: Iterable[str], separator: str) -> object:
    return list(classes) if node.array else separator.join(classes)


def next_seq(node: NodeType, current: int) -> int:
    """The record counter after ``current``: +1, wrapping from the type's maximum to 1 (0 = no record yet)."""
    hi = INT_RANGES[node.type_name][1]
    return 1 if current >= hi or current < 0 else current + 1


def present(value: object) -> bool:
    """A part-present value: Boolean, or an integer where nonzero is present."""
    return bool(value)


def part_id_text(value: object) -> str | None:
    """The part id read from a PLC node; None when empty (the trigger then makes one)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class Edges:
    """Edges of a part-present level. The first value is the baseline (a part present at (re)connect is not a
    new part); a repeated value is no edge (a held-high signal is one part)."""

    def __init__(self) -> None:
        self.level: bool | None = None

    def update(self, value: object) -> str | None:
        """``"rising"``, ``"falling"`` or None for the next value read or notified."""
        now, before = present(value), self.level
        self.level = now
        if before is None or now == before:
            return None
        return "rising" if now else "falling"
