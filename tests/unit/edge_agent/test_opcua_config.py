"""The ``type: opcua`` sink and trigger in the line YAML: what is accepted, each refusal with its path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from edge_agent.config import parse_config
from edge_agent.config.sinks import OpcUaSink
from edge_agent.config.triggers import OpcUaTrigger, TriggerConfig
from edge_agent.errors import AgentConfigError

LINE_YAML = """
agent_id: a1
line_id: line1
station_id: s1
source: {type: simulated}
detector: {onnx: m.onnx}
sinks:
  - type: opcua
    name: plc
    endpoint: opc.tcp://10.0.0.5:4840
    nodes:
      verdict: "ns=2;s=Line1.Reject.Verdict"
      part_id: "ns=2;s=Line1.Reject.PartId"
      classes: "ns=2;s=Line1.Reject.Classes"
      seq: "ns=2;s=Line1.Reject.Seq"
    security:
      policy: Basic256Sha256
      mode: SignAndEncrypt
      certificate: /etc/factoryloop/opcua/agent.der
      private_key: /etc/factoryloop/opcua/agent-key.pem
    username: agent
    password_env: FACTORYLOOP_OPCUA_PASSWORD
"""
SINK: dict[str, Any] = yaml.safe_load(LINE_YAML)["sinks"][0]
TRIGGER: dict[str, Any] = {
    "type": "opcua",
    "endpoint": "opc.tcp://plc:4840",
    "nodes": {"part_present": "ns=3;i=1001", "part_id": "nsu=urn:plc;s=PartId"},
}


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    node: Any = data
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is ...:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return data


def test_the_documented_line_yaml_parses() -> None:
    cfg = parse_config(yaml.safe_load(LINE_YAML))
    sink = cfg.sinks[0]
    assert isinstance(sink, OpcUaSink)
    assert (sink.security.mode, sink.password_env, sink.nodes.strobe) == (
        "SignAndEncrypt",
        "FACTORYLOOP_OPCUA_PASSWORD",
        None,
    )
    assert sink.verdict_codes.model_dump() == {"PASS": 0, "FAIL": 1, "UNCERTAIN": 2}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("password", "s3cret", "sinks[0].password: Extra inputs are not permitted"),
        ("password_env", "MY-PASS", "sinks[0].password_env: String should match pattern"),
        ("password_env", ..., "username and password_env go together"),
        ("endpoint", "http://plc:4840", "sinks[0].endpoint: String should match pattern"),
        ("nodes.verdict", "Line1.Reject.Verdict", "sinks[0].nodes.verdict: String should match pattern"),
        ("nodes.seq", ..., "nodes needs seq (a counter) or strobe (a Boolean)"),
        ("nodes.classes", "ns=2;s=Line1.Reject.Verdict", "nodes must be distinct"),
        ("nodes.colour", "ns=2;s=X", "sinks[0].nodes.colour: Extra inputs are not permitted"),
        ("security.mode", "None", "policy Basic256Sha256 needs mode Sign or SignAndEncrypt"),
        (
            "security.mode",
            "Encrypt",
            "sinks[0].security.mode: Input should be 'None', 'Sign' or 'SignAndEncrypt'",
        ),
        ("security.policy", "None", "mode SignAndEncrypt needs a policy"),
        (
            "security.policy",
            "Basic128Rsa15",
            "sinks[0].security.policy: Input should be 'None' or 'Basic256Sha256'",
        ),
        ("security.private_key", ..., "needs the client's certificate and private_key paths"),
        ("security", {"policy": "None", "certificate": "/c.der"}, "certificates are only used with policy"),
        ("verdict_codes.FAIL", "one", "sinks[0].verdict_codes.FAIL: Input should be a valid integer"),
    ],
)
def test_sink_refusals_name_the_yaml_path(path: str, value: Any, expected: str) -> None:
    data = yaml.safe_load(LINE_YAML)
    data["sinks"][0] = with_(SINK, path, value)
    with pytest.raises(AgentConfigError) as info:
        parse_config(data, "line.yaml")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("path", "value", "accepted"),
    [
        ("mode", "poll", True),
        ("mode", "interrupt", False),
        ("poll_ms", 0, False),
        ("publishing_interval_ms", 0, True),
        ("nodes.part_present", ..., False),
        ("nodes.encoder", "ns=2;s=Enc", True),
        ("nodes.ack", "ns=3;i=1001", False),  # the part-present node itself
        ("nodes.ack", "ns=2;g=09087e75-8e5e-499b-954f-f2a9603db28a", True),
        (
            "security",
            {"policy": "Basic256Sha256", "mode": "Sign", "certificate": "c", "private_key": "k"},
            True,
        ),
        ("username", "agent", False),  # without password_env
        ("part_prefix", "x" * 33, False),
    ],
)
def test_trigger_config_table(path: str, value: Any, accepted: bool) -> None:
    data = with_(TRIGGER, path, value)
    adapter: TypeAdapter[Any] = TypeAdapter(TriggerConfig)
    if accepted:
        assert isinstance(adapter.validate_python(data), OpcUaTrigger)
    else:
        with pytest.raises(ValidationError):
            adapter.validate_python(data)
