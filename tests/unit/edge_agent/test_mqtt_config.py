"""The MQTT sink's and trigger's connection keys in the line YAML: TLS, the user, and a password written in
the YAML refused by validate-config with a message saying how to give it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from edge_agent.cli import app
from edge_agent.config import parse_config
from edge_agent.config.mqtt import MQTTS_PORT
from edge_agent.errors import AgentConfigError

BASE: dict[str, Any] = {
    "agent_id": "a1",
    "line_id": "l1",
    "station_id": "s1",
    "source": {"type": "simulated"},
    "detector": {"onnx": "m.onnx", "class_names": ["scratch", "dent"]},
}


def line(sink: dict[str, Any] | None = None, trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {**BASE, "sinks": [{"type": "mqtt", "host": "broker", **(sink or {})}]}
    if trigger is not None:
        data["trigger"] = {"type": "mqtt", "host": "broker", **trigger}
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (line({"password": "hunter2"}), "sinks[0].password: Value error, a password is never written in the"),
        (
            line(trigger={"password": "x"}),
            "trigger.password: Value error, a password is never written in the",
        ),
        (line({"username": "u", "password_env": "A", "password_file": "/p"}), "not both"),
        (line({"password_env": "A"}), "a password (password_env / password_file) needs a username"),
        (line({"username": "u", "password_env": "not a name"}), "sinks[0].password_env: String should match"),
        (line({"tls": {"cert_file": "/c.pem"}}), "cert_file and key_file go together"),
        (line({"tls": {"insecure": True}}), "sinks[0].tls.insecure: Extra inputs are not permitted"),
    ],
)
def test_mqtt_connection_errors_name_their_path(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(AgentConfigError) as err:
        parse_config(data, "line.yaml")
    assert any(expected in p for p in err.value.problems), err.value.problems


@pytest.mark.parametrize(
    ("sink", "port", "tls"),
    [
        ({}, 1883, None),
        ({"tls": {}}, MQTTS_PORT, (None, True)),
        (
            {"tls": {"ca_file": "/etc/ca.pem", "check_hostname": False}, "port": 9883},
            9883,
            ("/etc/ca.pem", False),
        ),
    ],
)
def test_tls_and_its_default_port(
    sink: dict[str, Any], port: int, tls: tuple[str | None, bool] | None
) -> None:
    cfg = parse_config(line({"username": "u", "password_file": "/run/secrets/mqtt", **sink}), "line.yaml")
    mqtt = cfg.sinks[0]
    assert mqtt.type == "mqtt" and mqtt.port == port and mqtt.password_file == Path("/run/secrets/mqtt")
    got = (
        None
        if mqtt.tls is None
        else (str(mqtt.tls.ca_file) if mqtt.tls.ca_file else None, mqtt.tls.check_hostname)
    )
    assert got == tls


def test_validate_config_says_how_to_give_the_password(tmp_path: Path) -> None:
    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump(line({"username": "agent", "password": "hunter2"})))
    result = CliRunner().invoke(app, ["validate-config", str(path)])
    assert result.exit_code == 1
    assert "sinks[0].password" in result.output and "password_env" in result.output
    assert "password_file" in result.output and "hunter2" not in result.output
