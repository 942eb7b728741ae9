"""An edge agent's env file from a Strimzi cluster's Secrets (``factoryloop deploy k8s-agent-env``): the
Secrets as ``kubectl get secret NAME -o json`` prints them (base64 ``data``), the env file and the CA written
0600, the settings the agent reads from them; wrong or missing Secrets named with the key and the command."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryloop.cli.deploy import app
from factoryloop.settings import KafkaSettings
from factoryloop.site.security import parse_env

CA = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"


def settings_from_env_file(path: Path) -> KafkaSettings:
    """The Kafka settings an agent gets from ``path`` (variables in its environment; not this process's)."""
    prefix = "FACTORYLOOP_KAFKA_"
    env = parse_env(path.read_text())
    values = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    return KafkaSettings(**values)  # type: ignore[arg-type]


def secret(path: Path, name: str, data: dict[str, str], kind: str = "Secret") -> Path:
    """A Secret as kubectl prints it: values base64 in ``data``."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    doc = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "type": "Opaque", "data": encoded}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, Path]:
    return {
        "user": secret(
            tmp_path / "user.json", "factoryloop-kafka-agent", {"password": "pw-1", "sasl.jaas.config": "x"}
        ),
        "ca": secret(tmp_path / "ca.json", "factoryloop-cluster-ca-cert", {"ca.crt": CA, "ca.p12": "p12"}),
        "trainer": secret(
            tmp_path / "trainer.json", "factoryloop-trainer", {"signing-key": "k3y", "api-token": "t"}
        ),
    }


def run(secrets: dict[str, Path], out: Path, *extra: str) -> object:
    return CliRunner().invoke(
        app,
        [
            "k8s-agent-env",
            "--user-secret", str(secrets["user"]),
            "--ca-secret", str(secrets["ca"]),
            "--trainer-secret", str(secrets["trainer"]),
            "--bootstrap", "kafka.plant.example:9094",
            "--out", str(out),
            *extra,
        ],
    )  # fmt: skip


def test_the_agent_env_from_the_secrets(secrets: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "line-2"
    result = run(secrets, out, "--install-dir", "/etc/fl")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    env = parse_env((out / "agent.env").read_text())
    assert (out / "ca.pem").read_text() == CA
    for f in ("agent.env", "ca.pem"):
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o600
    assert (
        env["FACTORYLOOP_AGENT_SIGNING_KEY"] == "k3y" and env["FACTORYLOOP_AGENT_REQUIRE_SIGNATURE"] == "true"
    )
    settings = settings_from_env_file(out / "agent.env")
    assert settings.bootstrap_servers == "kafka.plant.example:9094"
    assert settings.security_protocol == "SASL_SSL" and settings.sasl_mechanism == "SCRAM-SHA-512"
    assert settings.sasl_username == "factoryloop-kafka-agent"  # the KafkaUser's name
    assert settings.sasl_password is not None and settings.sasl_password.get_secret_value() == "pw-1"
    assert str(settings.ssl_cafile) == "/etc/fl/ca.pem"

    again = run(secrets, out)  # nothing overwritten
    assert again.exit_code == 1 and "exists" in again.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("which", "content", "says"),
    [
        ("user", {"sasl.jaas.config": "x"}, "has no key 'password' (keys: sasl.jaas.config)"),
        ("ca", {"ca.crt": "not a certificate"}, "ca.crt is not a PEM certificate"),
        ("trainer", {"signing-key": "CHANGE-ME"}, "signing-key is still a placeholder"),
    ],
)
def test_a_secret_without_what_it_needs(
    secrets: dict[str, Path], tmp_path: Path, which: str, content: dict[str, str], says: str
) -> None:
    secret(secrets[which], "some-secret", content)
    result = run(secrets, tmp_path / "out")
    assert result.exit_code == 1 and says in result.output, result.output  # type: ignore[attr-defined]
    assert not (tmp_path / "out" / "agent.env").exists()


def test_not_a_secret_or_not_json(secrets: dict[str, Path], tmp_path: Path) -> None:
    secret(secrets["user"], "factoryloop-kafka-agent", {"password": "pw"}, kind="ConfigMap")
    result = run(secrets, tmp_path / "out")
    assert result.exit_code == 1 and "a 'ConfigMap', not a Secret" in result.output  # type: ignore[attr-defined]
    assert "kubectl -n factoryloop get secret factoryloop-kafka-agent -o json" in result.output  # type: ignore[attr-defined]
    secrets["ca"].write_text("apiVersion: v1\nkind: Secret\n")  # YAML, not JSON
    secret(secrets["user"], "factoryloop-kafka-agent", {"password": "pw"})
    result = run(secrets, tmp_path / "out")
    assert result.exit_code == 1 and "not a Secret as JSON" in result.output  # type: ignore[attr-defined]


def test_a_bootstrap_without_port(secrets: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["k8s-agent-env", "--user-secret", str(secrets["user"]), "--ca-secret", str(secrets["ca"]),
         "--trainer-secret", str(secrets["trainer"]), "--bootstrap", "plant", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 1 and "host:port of the external listener" in result.output
