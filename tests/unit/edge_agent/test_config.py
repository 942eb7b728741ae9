"""Line YAML validation: every error names its YAML path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from edge_agent.cli import app
from edge_agent.config import load_config, parse_config
from edge_agent.errors import AgentConfigError

REPO = Path(__file__).resolve().parents[3]
BASE: dict[str, Any] = {
    "agent_id": "a1",
    "line_id": "l1",
    "station_id": "s1",
    "source": {"type": "simulated"},
    "detector": {"onnx": "m.onnx", "class_names": ["scratch", "dent"]},
    "sinks": [{"type": "log"}, {"type": "mqtt", "host": "h"}],
}


def with_(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node: Any = data
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (with_("sinks.1.port", "abc"), "sinks[1].port: Input should be a valid integer"),
        (with_("sinks.1.qos", 5), "sinks[1].qos: Input should be 0, 1 or 2"),
        (with_("sinks.0.type", "fax"), "sinks[0]: Input tag 'fax' found using 'type' does not match"),
        (with_("sinks.1.colour", "red"), "sinks[1].colour: Extra inputs are not permitted"),
        (with_("source.fps", -1), "source.fps: Input should be greater than or equal to 0"),
        (with_("source", {"type": "folder"}), "source.path: Field required"),
        (with_("detector.threads", 0), "detector.threads: Input should be greater than or equal to 1"),
        (with_("agent_id", "has space"), "agent_id: String should match pattern"),
        (with_("rules", {"default": {"confidence": 0.3, "uncertain": 0.5}}), "rules.default: Value error"),
        (with_("rules", {"classes": {"dent": {"roi": [0.5, 0, 0.2, 1]}}}), "rules.classes.dent: Value error"),
        (with_("rules", {"classes": {"crack": {}}}), "<root>: Value error, rules.classes names unknown"),
        (
            with_("buffer", {"max_bytes": 10}),
            "buffer.max_bytes: Input should be greater than or equal to 1024",
        ),
        (with_("metrics_port", 70000), "metrics_port: Input should be less than or equal to 65535"),
        (with_("typo_key", 1), "typo_key: Extra inputs are not permitted"),
        ({k: v for k, v in BASE.items() if k != "detector"}, "detector: Field required"),
    ],
)
def test_errors_name_the_yaml_path(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(AgentConfigError) as info:
        parse_config(data)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_all_problems_reported_at_once() -> None:
    data = with_("sinks.1.port", "abc")
    data["detector"]["threads"] = 0
    with pytest.raises(AgentConfigError) as info:
        parse_config(data)
    assert len(info.value.problems) == 2


def test_example_config_is_valid() -> None:
    cfg = load_config(REPO / "deploy" / "examples" / "line.yaml")
    assert cfg.source.type == "simulated"
    assert [s.type for s in cfg.sinks] == ["modbus", "mqtt", "log"]


def test_relative_model_path_resolves_against_the_yaml(tmp_path: Path) -> None:
    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert load_config(path).detector.onnx == tmp_path / "m.onnx"


@pytest.mark.parametrize(
    ("text", "code", "needle"),
    [
        (yaml.safe_dump(with_("sinks.1.port", "abc")), 1, "sinks[1].port: Input should be a valid integer"),
        ("agent_id: [unclosed", 1, "<yaml>"),
        (yaml.safe_dump(BASE), 0, "OK"),
    ],
)
def test_validate_config_cli(tmp_path: Path, text: str, code: int, needle: str) -> None:
    path = tmp_path / "line.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == code
    assert needle in result.output
