"""deploy/systemd/env: every variable the example env files name is a real setting, so they cannot rot.

FACTORYLOOP_* names come from the pydantic settings classes (env prefix + field name, or a validation alias)
and the few variables ``factoryloop/settings.py`` reads itself; MLFLOW_* names from MLflow. Commented
placeholders (``# FACTORYLOOP_X=...``) are checked too. Secrets only in the secrets/*.example files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from api.settings import ApiSettings
from edge_agent.settings import AgentSettings
from factoryloop.cli.deploy import app
from factoryloop.settings import KafkaSettings
from factoryloop.site.env_names import assignments, factoryloop_names, mlflow_names, unknown_names
from factoryloop.stack.settings import StackSettings
from training.settings import TrainSettings

ENV = Path(__file__).resolve().parents[3] / "deploy" / "systemd" / "env"
FILES = sorted(ENV.rglob("*.env")) + sorted(ENV.rglob("*.env.example"))
SECRET_WORDS = ("PASSWORD", "PEPPER", "SIGNING_KEY", "TOKEN", "DATABASE_URL")


def _assignments(path: Path, commented: bool = True) -> dict[str, str]:
    return assignments(path.read_text(), commented)


def test_there_are_env_files() -> None:
    assert {p.name for p in FILES} >= {"site.env", "api.env", "trainer.env", "agent.env", "mlflow.env"}


def test_the_known_names_come_from_the_settings() -> None:
    known = factoryloop_names()
    expected = {
        "FACTORYLOOP_KAFKA_SASL_PASSWORD",  # KafkaSettings
        "FACTORYLOOP_API_TOKEN_PEPPER",  # ApiSettings
        "FACTORYLOOP_TRAIN_SIGNING_KEY",  # TrainSettings
        "FACTORYLOOP_AGENT_REQUIRE_SIGNATURE",  # AgentSettings
        "FACTORYLOOP_STACK_JARS",  # StackSettings
        "FACTORYLOOP_HOME",  # an alias and os.environ
        "FACTORYLOOP_DATASETS",  # os.environ in factoryloop/settings.py
    }
    assert expected <= known
    assert "FACTORYLOOP_API_KAFKA" not in known  # a nested settings object is no variable
    assert unknown_names({"FACTORYLOOP_API_TOKEN_PEPER", "HOME"}) == ["FACTORYLOOP_API_TOKEN_PEPER", "HOME"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ENV)))
def test_every_name_is_a_setting(path: Path) -> None:
    names = set(_assignments(path))
    assert names, f"{path} sets nothing"
    assert not unknown_names(names), f"{path.name}: no process reads {unknown_names(names)}"
    if any(n.startswith("MLFLOW_") for n in names) and mlflow_names() is None:
        pytest.skip("mlflow is not installed: its variable names were not checked")


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix == ".env"], ids=lambda p: p.name)
def test_no_secret_outside_the_secrets_files(path: Path) -> None:
    secrets = [n for n in _assignments(path) if any(w in n for w in SECRET_WORDS)]
    assert not secrets, f"{path.name} names secrets {secrets}: they belong in secrets/*.env"


@pytest.mark.parametrize(
    ("files", "cls"),
    [
        (["site.env", "api.env", "secrets/api.env.example"], ApiSettings),
        (["site.env", "trainer.env", "secrets/trainer.env.example"], TrainSettings),
        (["site.env", "agent.env", "secrets/agent.env.example"], AgentSettings),
        (["site.env"], KafkaSettings),
        (["kafka-broker.env"], StackSettings),
        (["kafka-controller.env"], StackSettings),
    ],
)
def test_values_parse(monkeypatch: pytest.MonkeyPatch, files: list[str], cls: type[BaseSettings]) -> None:
    """The uncommented values load into the settings class (booleans, numbers, enums as pydantic reads)."""
    for name in files:
        for key, value in _assignments(ENV / name, commented=False).items():
            monkeypatch.setenv(key, value)
    settings: Any = cls()
    if isinstance(settings, ApiSettings):
        assert settings.run_sink is False
        assert settings.kafka.bootstrap_servers.count(",") == 2
    if isinstance(settings, AgentSettings):
        assert settings.require_signature is True


def test_check_env_command(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.env", tmp_path / "bad.env"
    good.write_text("FACTORYLOOP_API_PORT=8000\n# FACTORYLOOP_KAFKA_SASL_USERNAME=x\n")
    bad.write_text("FACTORYLOOP_API_PROT=8000\n")
    runner = CliRunner()
    assert runner.invoke(app, ["check-env", str(good)]).exit_code == 0
    result = runner.invoke(app, ["check-env", str(good), str(bad)])
    assert result.exit_code == 1 and "unknown FACTORYLOOP_API_PROT" in result.output
