"""Validation errors of a YAML document, each named by its path in the document (``sinks[1].port: ...``)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def yaml_path(data: Any, loc: tuple[int | str, ...]) -> str:
    """``('sinks', 1, 'mqtt', 'port')`` -> ``sinks[1].port``: union tags absent from the data are skipped."""
    out, node = "", data
    for seg in loc:
        if isinstance(node, list) and isinstance(seg, int) and seg < len(node):
            out, node = f"{out}[{seg}]", node[seg]
        elif isinstance(node, dict) and seg in node:
            out, node = f"{out}.{seg}" if out else str(seg), node[seg]
        elif isinstance(node, dict) and isinstance(seg, str) and seg == node.get("type"):
            continue
        else:
            out, node = (f"{out}.{seg}" if out else str(seg)), None
    return out or "<root>"


def format_errors(data: Any, exc: ValidationError) -> list[str]:
    """One ``path: message`` line per error of ``exc`` raised validating ``data``."""
    return [f"{yaml_path(data, tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
