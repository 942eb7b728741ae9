"""The environment variables factoryloop's processes read, from their settings classes.

Used by ``factoryloop deploy check-env`` (a typo in ``/etc/factoryloop/api.env`` is otherwise silently
ignored: the settings classes have ``extra="ignore"``) and by the tests that keep ``deploy/`` in step.
FACTORYLOOP_* names come from the pydantic settings (env prefix + field, or a validation alias) plus the few
read directly in ``factoryloop/settings.py``; MLFLOW_* names from MLflow when it is installed.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

logger = logging.getLogger(__name__)

# (module, class): every process's settings. The API, trainer and agent modules may be absent (an edge box
# has no API or training code): their names are then unknown and reported as such.
SETTINGS_CLASSES = (
    ("factoryloop.settings", "KafkaSettings"),
    ("factoryloop.kafka.retention", "TopicRetentionSettings"),
    ("factoryloop.stack.settings", "StackSettings"),
    ("api.settings", "ApiSettings"),
    ("training.settings", "TrainSettings"),
    ("edge_agent.settings", "AgentSettings"),
)
_ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def settings_names(cls: type[BaseSettings]) -> set[str]:
    """The variables one settings class reads (nested settings objects read their own prefix)."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names = set()
    for field_name, field in cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(a).upper() for a in alias.choices}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(prefix + field_name.upper())
    return names


def factoryloop_names() -> set[str]:
    names: set[str] = set()
    for module_name, attr in SETTINGS_CLASSES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            logger.debug("settings %s.%s unavailable: %s", module_name, attr, exc)
            continue
        names |= settings_names(getattr(module, attr))
    shared = importlib.import_module("factoryloop.settings")
    names |= set(re.findall(r'os\.environ\.get\("(FACTORYLOOP_[A-Z_]+)"\)', inspect.getsource(shared)))
    return names


def mlflow_names() -> set[str] | None:
    """MLflow's variables (its server options' envvars and mlflow.environment_variables); None: no MLflow."""
    try:
        cli = importlib.import_module("mlflow.cli")
        env_vars = importlib.import_module("mlflow.environment_variables")
    except ModuleNotFoundError:
        return None
    names = {p.envvar for p in cli.server.params if isinstance(p.envvar, str)}
    return names | {n for n in dir(env_vars) if n.startswith("MLFLOW_")}


def assignments(text: str, commented: bool = True) -> dict[str, str]:
    """``NAME=value`` lines of an env file; with ``commented``, ``# NAME=value`` placeholders too."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") and not commented:
            continue
        match = _ASSIGNMENT.match(line)
        if match:
            out[match[1]] = match[2]
    return out


def unknown_names(names: set[str]) -> list[str]:
    """The names no factoryloop process (or MLflow, when installed) reads, sorted."""
    known = factoryloop_names()
    mlflow = mlflow_names()
    bad = []
    for name in sorted(names):
        if name.startswith("MLFLOW_"):
            if mlflow is not None and name not in mlflow:
                bad.append(name)
        elif name not in known:
            bad.append(name)
    return bad


def check_file(path: Path) -> list[str]:
    """The unknown names an env file sets or leaves as commented placeholders."""
    return unknown_names(set(assignments(path.read_text(encoding="utf-8"))))
