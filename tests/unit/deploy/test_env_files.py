"""deploy/systemd/env: every variable the example env files name is a real setting, so they cannot rot.

FACTORYLOOP_* names come from the pydantic settings classes (env prefix + field name, or a validation alias)
and the few variables ``factoryloop/settings.py`` reads itself; MLFLOW_* names from MLflow. Commented
placeholders (``# FACTORYLOOP_X=...``) are checked too. Secrets only in the secrets/*.example files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

import factoryloop.settings as shared_settings
from api.settings import ApiSettings
from edge_agent.settings import AgentSettings
from factoryloop.settings import KafkaSettings
from factoryloop.stack.settings import StackSettings
from training.settings import TrainSettings

ENV = Path(__file__).resolve().parents[3] / "deploy" / "systemd" / "env"
FILES = sorted(ENV.rglob("*.env")) + sorted(ENV.rglob("*.env.example"))
CLASSES: list[type[BaseSettings]] = [KafkaSettings, StackSettings, ApiSettings, TrainSettings, AgentSettings]
_ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
SECRET_WORDS = ("PASSWORD", "PEPPER", "SIGNING_KEY", "TOKEN", "DATABASE_URL")


def _assignments(path: Path, commented: bool = True) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("#") and not commented:
            continue
        match = _ASSIGNMENT.match(line)
        if match:
            out[match[1]] = match[2]
    return out


def _names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names = set()
    for field_name, field in cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
            continue  # a nested settings object (ApiSettings.kafka) reads its own prefix
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(a).upper() for a in alias.choices}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(prefix + field_name.upper())
    return names


def _known_factoryloop() -> set[str]:
    names = set().union(*(_names(c) for c in CLASSES))
    source = Path(shared_settings.__file__).read_text()  # factoryloop_home(), datasets_root()
    return names | set(re.findall(r'os\.environ\.get\("(FACTORYLOOP_[A-Z_]+)"\)', source))


def _known_mlflow() -> set[str]:
    mlflow_cli = pytest.importorskip("mlflow.cli")
    env_vars = pytest.importorskip("mlflow.environment_variables")
    names = {p.envvar for p in mlflow_cli.server.params if isinstance(p.envvar, str)}
    return names | {n for n in dir(env_vars) if n.startswith("MLFLOW_")}


def test_there_are_env_files() -> None:
    assert {p.name for p in FILES} >= {"site.env", "api.env", "trainer.env", "agent.env", "mlflow.env"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ENV)))
def test_every_name_is_a_setting(path: Path) -> None:
    names = set(_assignments(path))
    assert names, f"{path} sets nothing"
    unknown_fl = {n for n in names if n.startswith("FACTORYLOOP_")} - _known_factoryloop()
    assert not unknown_fl, f"{path.name}: not settings fields: {sorted(unknown_fl)}"
    mlflow = {n for n in names if n.startswith("MLFLOW_")}
    if mlflow:
        assert not mlflow - _known_mlflow(), (
            f"{path.name}: MLflow knows no {sorted(mlflow - _known_mlflow())}"
        )
    other = names - {n for n in names if n.startswith(("FACTORYLOOP_", "MLFLOW_"))}
    assert not other, f"{path.name}: variables no factoryloop process reads: {sorted(other)}"


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
