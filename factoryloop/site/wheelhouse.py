"""An offline wheelhouse: the factoryloop wheel and every wheel an extra needs, for air-gapped machines.

Built on a machine that reaches a package registry, copied to the line PC (USB stick, file share), installed
there with ``pip install --no-index --find-links DIR 'factoryloop[edge]'``. The plan is a list of pip command
lines (pure, unit-tested); ``build`` runs them. Versions follow ``constraints.txt`` (what CI tested) when the
project folder has one.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement

logger = logging.getLogger(__name__)

PROJECT = "factoryloop"
INSTALL_NOTE = "INSTALL.txt"
REQUIREMENTS = "requirements.txt"


class WheelhouseError(RuntimeError):
    """The wheelhouse cannot be planned or built (unknown extra, pip failed)."""


@dataclass(frozen=True)
class WheelhousePlan:
    """What to build into ``out`` and the pip commands that build it."""

    project: Path
    out: Path
    extras: tuple[str, ...]
    requirements: tuple[str, ...]  # the project's own dependencies for these extras (no self-references)
    commands: tuple[tuple[str, ...], ...] = field(default=())
    target: str = ""  # the install spec on the target: factoryloop[edge]

    def install_command(self, where: str = "DIR") -> str:
        return f"pip install --no-index --find-links {where} '{self.target}'"


def find_project(start: Path | None = None) -> Path:
    """The source folder holding factoryloop's ``pyproject.toml`` (editable install or checkout)."""
    here = (start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and f'name = "{PROJECT}"' in pyproject.read_text(encoding="utf-8"):
            return folder
    raise WheelhouseError(f"no {PROJECT} pyproject.toml above {here}: pass --project SOURCE_DIR")


def requirements_for(pyproject: dict[str, object], extras: tuple[str, ...]) -> tuple[str, ...]:
    """Base dependencies plus those of ``extras``, expanding ``factoryloop[...]`` self-references."""
    project = pyproject.get("project")
    if not isinstance(project, dict):
        raise WheelhouseError("pyproject.toml has no [project] table")
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    out: list[str] = list(project.get("dependencies", []))
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise WheelhouseError(f"unknown extra {extra!r}: one of {', '.join(sorted(optional))}")
        seen.add(extra)
        for spec in optional[extra]:
            req = Requirement(spec)
            if req.name == PROJECT:
                pending.extend(sorted(req.extras))
            elif spec not in out:
                out.append(spec)
    return tuple(out)


def plan(
    out: Path,
    extras: tuple[str, ...] = ("edge",),
    project: Path | None = None,
    python_version: str | None = None,
    platform: str | None = None,
    use_constraints: bool = True,
) -> WheelhousePlan:
    """The pip commands that fill ``out``: build the project's wheel, then fetch the wheels it needs."""
    root = project or find_project()
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = requirements_for(data, extras)
    pip = (sys.executable, "-m", "pip")
    wheel = (*pip, "wheel", "--no-deps", "--wheel-dir", str(out), str(root))
    if python_version or platform:
        # Another interpreter or OS: download wheels only (pip cannot build sdists for a foreign target).
        deps = [*pip, "download", "--only-binary=:all:", "--dest", str(out)]
        deps += ["--python-version", python_version] if python_version else []
        deps += ["--platform", platform] if platform else []
    else:
        # This interpreter and OS: `pip wheel` also builds a wheel of any dependency shipped as sdist only.
        deps = [*pip, "wheel", "--wheel-dir", str(out)]
    deps += ["--requirement", str(out / REQUIREMENTS)]
    constraints = root / "constraints.txt"
    if use_constraints and constraints.is_file():
        deps += ["--constraint", str(constraints)]
    target = f"{PROJECT}[{','.join(extras)}]" if extras else PROJECT
    return WheelhousePlan(root, out, extras, reqs, (wheel, tuple(deps)), target)


def verify_command(p: WheelhousePlan) -> tuple[str, ...]:
    """A dry run of the offline install on this machine: fails when a wheel is missing."""
    return (
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--no-index",
        "--find-links",
        str(p.out),
        p.target,
    )


_SKIP_IN_COPY = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.onnx", "*.pt")
_PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")


def _copy_sources(root: Path, dest: Path) -> Path:
    """What the wheel is built from (the packages pyproject.toml includes and the metadata files), no more."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    found = data.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    tops = {pattern.split(".")[0].rstrip("*") for pattern in found.get("include", [PROJECT])}
    dest.mkdir(parents=True)
    for name in _PROJECT_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)
    for top in sorted(tops):
        if (root / top).is_dir():
            shutil.copytree(root / top, dest / top, ignore=_SKIP_IN_COPY)
    return dest


def _run(cmd: tuple[str, ...], timeout_s: float) -> None:
    logger.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise WheelhouseError(f"{' '.join(cmd[2:4])} failed (exit {proc.returncode}):\n{tail}")


def build(p: WheelhousePlan, verify: bool = True, timeout_s: float = 1800.0) -> list[Path]:
    """Run the plan (and the offline dry run when ``verify``); the wheels now in ``out``."""
    p.out.mkdir(parents=True, exist_ok=True)
    (p.out / REQUIREMENTS).write_text("\n".join(p.requirements) + "\n", encoding="utf-8")
    commands = list(p.commands) + ([verify_command(p)] if verify else [])
    with tempfile.TemporaryDirectory(prefix="factoryloop-src-") as tmp:
        # pip builds a local project in place, and setuptools' build/ may hold modules deleted since: build
        # from a clean copy of the sources instead.
        source = _copy_sources(p.project, Path(tmp) / "src")
        commands[0] = (*commands[0][:-1], str(source))
        for cmd in commands:
            _run(cmd, timeout_s)
    note = (
        f"Offline install of {p.target} (copy this folder to the machine, then):\n"
        f"  python3 -m venv /opt/factoryloop/venv\n"
        f"  /opt/factoryloop/venv/bin/{p.install_command(str(p.out.name))}\n"
    )
    (p.out / INSTALL_NOTE).write_text(note, encoding="utf-8")
    return sorted(p.out.glob("*.whl"))
