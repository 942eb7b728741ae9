"""The units' command lines and environments as this machine can run them (shared by the deploy tests)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from factoryloop.site.env_names import assignments

SYSTEMD = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
VENV_BIN = "/opt/factoryloop/venv/bin/"


def _local(argv: list[str]) -> list[str]:
    if argv[0] == VENV_BIN + "mlflow":
        return [sys.executable, "-m", "mlflow", *argv[1:]]  # this interpreter's MLflow, in a venv or not
    assert argv[0] == VENV_BIN + "factoryloop", argv
    return [sys.executable, "-m", "factoryloop.cli", *argv[1:]]


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """systemd's ``${VAR}`` in a command line: the variable's value as one argument."""
    return [re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], a) for a in argv]


def unit(name: str, instance: str = "") -> tuple[list[list[str]], list[str], dict[str, str]]:
    """(ExecStartPre commands, ExecStart, the environment systemd gives it from the example env files)."""
    text = (SYSTEMD / name).read_text().replace("%i", instance)
    env: dict[str, str] = {}
    for ref in re.findall(r"^EnvironmentFile=-?(\S+)$", text, re.M):
        rel = Path(ref).relative_to("/etc/factoryloop")
        example = SYSTEMD / "env" / (f"{rel}.example" if rel.parent.name == "secrets" else str(rel))
        env |= assignments(example.read_text(), commented=False)
    env |= dict(re.findall(r"^Environment=(\w+)=(.*)$", text, re.M))
    pre = [_local(line.split()) for line in re.findall(r"^ExecStartPre=(.+)$", text, re.M)]
    (start,) = re.findall(r"^ExecStart=(.+)$", text, re.M)
    return pre, _local(start.split()), env
