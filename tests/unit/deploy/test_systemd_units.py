"""deploy/systemd: every unit passes `systemd-analyze verify` and the offline security check.

The units name the site's install paths (/opt/factoryloop/venv/bin/...); verify checks that each command
exists, so the copies checked here point at this machine's ``factoryloop`` and ``mlflow`` instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
UNITS = sorted(p for p in DEPLOY.iterdir() if p.suffix in (".service", ".target"))
SERVICES = [p for p in UNITS if p.suffix == ".service"]
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze not installed (Debian: apt-get install systemd)"
)
VENV_BIN = "/opt/factoryloop/venv/bin/"
# Most exposed a unit may be in `systemd-analyze security` (0 = locked down, 10 = unprotected; 1.7-1.9 now).
MAX_EXPOSURE = 3.0


def _instance(path: Path) -> str:
    """A template ``x@.service`` is checked as the instance ``x@1.service``."""
    return path.name.replace("@.", "@1.")


@pytest.fixture(scope="module")
def local_units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bin_dir = Path(sys.executable).parent
    tools = {name: shutil.which(name) or str(bin_dir / name) for name in ("factoryloop", "mlflow")}
    for name, path in tools.items():
        if not Path(path).is_file():
            pytest.skip(f"{name} is not installed here: the units' commands cannot be checked")
    out = tmp_path_factory.mktemp("units")
    for unit in UNITS:
        text = unit.read_text()
        for name, path in tools.items():
            text = text.replace(VENV_BIN + name, path)
        (out / unit.name).write_text(text)
    return out


def test_every_service_has_the_required_hardening() -> None:
    required = [
        "User=factoryloop",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
        "Restart=",
        "StateDirectory=factoryloop/",
        "ReadWritePaths=/var/lib/factoryloop/",
    ]
    assert {p.name for p in SERVICES} >= {
        "factoryloop-kafka-controller.service",
        "factoryloop-kafka-broker.service",
        "factoryloop-mlflow.service",
        "factoryloop-api.service",
        "factoryloop-sink@.service",
        "factoryloop-trainer.service",
        "factoryloop-agent@.service",
    }
    for unit in SERVICES:
        text = unit.read_text()
        missing = [r.strip() for r in required if r not in text]
        assert not missing, f"{unit.name} lacks {missing}"
        # Whatever a unit writes is its state directory: ReadWritePaths names nothing else.
        state = set(re.findall(r"^StateDirectory=(.+)$", text, re.M)[0].split())
        for line in re.findall(r"^ReadWritePaths=(.+)$", text, re.M):
            assert {p.removeprefix("/var/lib/") for p in line.split()} <= state, unit.name


def test_every_environment_file_has_an_example() -> None:
    env = DEPLOY / "env"
    for unit in SERVICES:
        for ref in re.findall(r"^EnvironmentFile=-?(\S+)$", unit.read_text(), re.M):
            rel = Path(ref).relative_to("/etc/factoryloop")
            example = env / rel if rel.parent == Path(".") else env / rel.parent / (rel.name + ".example")
            assert example.is_file(), f"{unit.name}: {ref} has no example {example}"


@needs_analyze
def test_systemd_analyze_verify(local_units: Path) -> None:
    names = [_instance(p) for p in UNITS]
    proc = subprocess.run(
        [str(ANALYZE), "verify", "--man=no", *names],
        cwd=local_units,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    # verify warns (unknown keys, bad values) without failing: any line about our units is an error here.
    ours = [line for line in output.splitlines() if "factoryloop" in line]
    assert proc.returncode == 0 and not ours, output


@needs_analyze
@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_systemd_analyze_security(local_units: Path, unit: Path) -> None:
    proc = subprocess.run(
        [
            str(ANALYZE),
            "security",
            "--offline=true",
            "--no-pager",
            f"./{_instance(unit)}",
        ],
        cwd=local_units,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert proc.returncode == 0 and match, proc.stdout[-2000:] + proc.stderr
    assert float(match[1]) <= MAX_EXPOSURE, proc.stdout[-3000:]


def _exec_lines() -> list[tuple[str, list[str]]]:
    """Every ExecStart/ExecStartPre command line of the units, ``%i`` as ``cam1`` and ``${VAR}`` from env."""
    env: dict[str, str] = {}
    for path in (DEPLOY / "env").glob("*.env"):
        for line in path.read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key] = value
    out = []
    for unit in SERVICES:
        for line in re.findall(r"^ExecStart(?:Pre)?=(.+)$", unit.read_text(), re.M):
            line = re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], line.replace("%i", "cam1"))
            out.append((unit.name, line.split()))
    return out


EXEC_LINES = _exec_lines()


@pytest.mark.parametrize(("unit", "argv"), EXEC_LINES, ids=[f"{u}:{' '.join(a[1:3])}" for u, a in EXEC_LINES])
def test_command_lines_exist(unit: str, argv: list[str]) -> None:
    """Each command, subcommand and option of the units is one the installed CLI accepts (``--help`` last)."""
    assert argv[0].startswith(VENV_BIN), f"{unit}: {argv[0]} is not the site's venv"
    tool = argv[0].removeprefix(VENV_BIN)
    cmd = [sys.executable, "-m", "factoryloop.cli"] if tool == "factoryloop" else [shutil.which(tool) or tool]
    if cmd[0] == tool:
        pytest.skip(f"{tool} is not installed here")
    # Options before --help are parsed first: an unknown one fails the call.
    args = ["site.conf" if a.startswith("/etc/factoryloop/") else a for a in argv[1:]]  # files of a site
    proc = subprocess.run([*cmd, *args, "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{unit}: {' '.join(argv)}\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}"
