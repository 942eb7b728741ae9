"""Validation errors of a YAML document, each named by its path in the document (``sinks[1].port: ...``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
ErrorFactory = Callable[[str, list[str]], Exception]


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


def read_yaml(path: Path, error: ErrorFactory) -> Any:
    """The parsed YAML of ``path``; raises ``error(source, [message])`` if it is unreadable or not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(str(path), [f"<file>: cannot read: {exc}"]) from exc
    except yaml.YAMLError as exc:
        raise error(str(path), [f"<yaml>: {exc}"]) from exc


def validate_mapping(model: type[M], data: Any, source: str, error: ErrorFactory) -> M:
    """``model`` validated from ``data`` (a mapping); ``error(source, lines)`` names every problem's path."""
    if not isinstance(data, dict):
        raise error(source, [f"<root>: expected a mapping, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(source, format_errors(data, exc)) from exc
