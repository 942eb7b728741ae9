"""The offline wheelhouse plan: which requirements, which pip commands, for this machine or another target."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

from factoryloop.cli.deploy import app
from factoryloop.site.wheelhouse import (
    REQUIREMENTS,
    WheelhouseError,
    find_project,
    plan,
    requirements_for,
    verify_command,
)

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FAKE = {
    "project": {
        "dependencies": ["pyyaml>=6"],
        "optional-dependencies": {
            "edge": ["onnxruntime>=1.18", "httpx>=0.27"],
            "api": ["fastapi", "httpx>=0.27"],
            "all": ["factoryloop[edge,api]"],
        },
    }
}


def _names(reqs: tuple[str, ...]) -> set[str]:
    return {Requirement(r).name.lower() for r in reqs}


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ((), {"pyyaml"}),
        (("edge",), {"pyyaml", "onnxruntime", "httpx"}),
        (("all",), {"pyyaml", "onnxruntime", "httpx", "fastapi"}),
    ],
)
def test_requirements_expand_extras(extras: tuple[str, ...], expected: set[str]) -> None:
    reqs = requirements_for(FAKE, extras)
    assert _names(reqs) == expected
    assert len(reqs) == len(set(reqs))  # httpx once


def test_unknown_extra_is_named() -> None:
    with pytest.raises(WheelhouseError, match="unknown extra 'gpu'"):
        requirements_for(FAKE, ("gpu",))


def test_the_line_pc_gets_no_training_stack() -> None:
    """The edge agent never imports torch or Ultralytics: its wheelhouse must not carry them (GBs)."""
    names = _names(requirements_for(PYPROJECT, ("edge",)))
    assert {"onnxruntime", "kafka-python", "opencv-python-headless", "paho-mqtt"} <= names
    assert not names & {"torch", "torchvision", "ultralytics", "mlflow", "fastapi"}


def test_native_plan_builds_every_wheel(tmp_path: Path) -> None:
    p = plan(tmp_path / "wh", ("edge",), project=ROOT)
    build, deps = p.commands
    assert build[:3] == (sys.executable, "-m", "pip")
    assert build[3:] == ("wheel", "--no-deps", "--wheel-dir", str(tmp_path / "wh"), str(ROOT))
    assert deps[3:6] == ("wheel", "--wheel-dir", str(tmp_path / "wh"))
    assert ("--requirement", str(tmp_path / "wh" / REQUIREMENTS)) == deps[6:8]
    assert deps[-2:] == ("--constraint", str(ROOT / "constraints.txt"))
    assert p.target == "factoryloop[edge]"
    assert p.install_command("/media/usb/wh") == (
        "pip install --no-index --find-links /media/usb/wh 'factoryloop[edge]'"
    )
    assert verify_command(p)[-4:] == ("--no-index", "--find-links", str(tmp_path / "wh"), "factoryloop[edge]")


def test_foreign_target_downloads_binary_wheels(tmp_path: Path) -> None:
    p = plan(tmp_path, ("edge", "api"), project=ROOT, python_version="3.12", platform="manylinux2014_aarch64")
    deps = p.commands[1]
    assert deps[3:5] == ("download", "--only-binary=:all:")
    assert deps[7:9] == ("--python-version", "3.12")
    assert deps[9:11] == ("--platform", "manylinux2014_aarch64")
    assert p.target == "factoryloop[edge,api]"


def test_without_constraints(tmp_path: Path) -> None:
    assert "--constraint" not in plan(tmp_path, project=ROOT, use_constraints=False).commands[1]


def test_find_project() -> None:
    assert find_project() == ROOT
    with pytest.raises(WheelhouseError, match="--project"):
        find_project(Path("/"))


def test_cli_dry_run_prints_the_plan(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["wheelhouse", "--out", str(tmp_path), "--extra", "edge", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and "wheel --no-deps" in lines[0] and "--requirement" in lines[1]
    assert not any(tmp_path.iterdir())
