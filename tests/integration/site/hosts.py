"""Processes started the way their systemd units start them, inside a namespace host.

A unit's ``ExecStart`` runs with ``/opt/factoryloop/venv/bin/factoryloop`` replaced by this interpreter and
its paths moved under the host's own folder (``/etc/factoryloop/`` -> ``<host>/etc/``,
``/var/lib/factoryloop/`` -> ``<host>/var/``). The environment is what systemd gives it: the unit's
``EnvironmentFile=`` files (the examples in ``deploy/systemd/env``; a secrets file is the site folder's env
file of the role) and its ``Environment=`` lines, then the few local overrides a test passes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from factoryloop.site.env_names import assignments
from tests.integration.site.netns import Host

logger = logging.getLogger(__name__)

SYSTEMD = Path(__file__).resolve().parents[3] / "deploy" / "systemd"
VENV_BIN = "/opt/factoryloop/venv/bin/"


class HostDirs:
    """``<root>/<host>/etc`` and ``var``: where the host's ``/etc/factoryloop`` and state live."""

    def __init__(self, root: Path, host: Host) -> None:
        self.host = host
        self.etc = root / host.name / "etc"
        self.var = root / host.name / "var"
        self.logs = root / host.name / "logs"
        for folder in (self.etc, self.var, self.logs):
            folder.mkdir(parents=True, exist_ok=True)

    def local(self, text: str) -> str:
        return text.replace("/etc/factoryloop/", f"{self.etc}/").replace(
            "/var/lib/factoryloop/", f"{self.var}/"
        )


def unit_command(
    unit: str, dirs: HostDirs, instance: str = "", secrets: dict[str, str] | None = None
) -> tuple[list[list[str]], list[str], dict[str, str]]:
    """(ExecStartPre commands, ExecStart, environment) of ``unit`` as ``dirs.host`` runs it. ``secrets``:
    the values of the unit's ``/etc/factoryloop/secrets/*.env`` (the site folder's role env file)."""
    text = (SYSTEMD / unit).read_text().replace("%i", instance)
    env: dict[str, str] = {}
    for ref in re.findall(r"^EnvironmentFile=-?(\S+)$", text, re.M):
        rel = Path(ref).relative_to("/etc/factoryloop")
        if rel.parent.name == "secrets":
            env |= secrets or {}
        else:
            env |= assignments((SYSTEMD / "env" / rel).read_text(), commented=False)
    env |= dict(re.findall(r"^Environment=(\w+)=(.*)$", text, re.M))
    env = {k: dirs.local(v) for k, v in env.items()}

    def local(line: str) -> list[str]:
        argv = dirs.local(line).split()
        assert argv[0] == VENV_BIN + "factoryloop", argv
        return [sys.executable, "-m", "factoryloop.cli", *argv[1:]]

    pre = [local(line) for line in re.findall(r"^ExecStartPre=(.+)$", text, re.M)]
    (start,) = re.findall(r"^ExecStart=(.+)$", text, re.M)
    return pre, local(start), env


def base_env() -> dict[str, str]:
    """This process's environment without any FACTORYLOOP_* setting (the unit's files set those)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FACTORYLOOP_")}


class Service:
    """One unit instance on one host: started, killed, stopped and restarted by the test."""

    def __init__(self, name: str, dirs: HostDirs, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.dirs = dirs
        self.argv = argv
        self.env = env
        self.log = dirs.logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def run_pre(self, pre: list[list[str]]) -> None:
        """The unit's ExecStartPre lines, in the host, as systemd runs them before ExecStart."""
        for argv in pre:
            done = subprocess.run(
                self.dirs.host.command(argv), env=self.env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, f"{self.name} ExecStartPre {argv}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.dirs.host.command(self.argv),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        logger.info("%s started on %s (pid %d)", self.name, self.dirs.host.name, self.proc.pid)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """A crash: SIGKILL the process (``ip netns exec`` and ``kafka-run`` exec: it is the program)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """``systemctl stop``: SIGTERM, SIGKILL after ``timeout_s``; the exit code (None if not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s: SIGKILL", self.name, timeout_s)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        return self.proc.returncode

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"
