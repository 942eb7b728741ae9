"""Background service processes: start in their own session, pid file, log file, clean stop, port checks."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from factoryloop.stack.errors import PortInUseError

logger = logging.getLogger(__name__)


def _proc_state(pid: int) -> str | None:
    """The state letter from /proc/<pid>/stat, or None when the process does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie counts as dead: it only waits to be reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_state(pid) not in (None, "Z", "X")


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (we can bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free right now (the kernel picks them)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_owner(port: int) -> str | None:
    """Best effort "pid N (command)" of the process listening on ``port``, from /proc (Linux only)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        cmd = cmdline(int(proc.name))
                        cmd = cmd if len(cmd) <= 200 else f"{cmd[:60]} ... {cmd[-130:]}"
                        return f"pid {proc.name} ({cmd})"
    return None


def check_ports(host: str, ports: Mapping[str, int]) -> None:
    """Raise ``PortInUseError`` naming the first taken port, its owner if known, and what to do."""
    for what, port in ports.items():
        if port_free(host, port):
            continue
        owner = port_owner(port)
        by = f" by {owner}" if owner else " by another process"
        raise PortInUseError(
            f"port {port} ({what}) on {host} is already in use{by}. Stop that process, or pick another "
            f"port, e.g. FACTORYLOOP_STACK_KAFKA_PORT / FACTORYLOOP_STACK_CONTROLLER_PORT / "
            f"FACTORYLOOP_STACK_MLFLOW_PORT."
        )


def log_tail(log_file: Path, lines: int = 40) -> str:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """A service process in its own session, tracked by a pid file so another process can stop it.

    ``marker`` is a string that must appear in the process command line: a stale pid file whose pid was
    reused by an unrelated process is then ignored.
    """

    def __init__(self, name: str, pid_file: Path, log_file: Path, marker: str) -> None:
        self.name = name
        self.pid_file = pid_file
        self.log_file = log_file
        self.marker = marker
        self._popen: subprocess.Popen[bytes] | None = None

    def pid(self) -> int | None:
        """The pid of the running service, or None (removes a stale pid file)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and self.marker in cmdline(pid):
            return pid
        self._reap()
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        return None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, cmd: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._popen.pid}\n")
        logger.debug("started %s pid %s: %s", self.name, self._popen.pid, " ".join(cmd))
        return self._popen.pid

    def exited(self) -> bool:
        """True when the process started here has exited (False when started elsewhere and running)."""
        if self._popen is not None:
            return self._popen.poll() is not None
        return not self.running()

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM the process group, wait ``timeout_s``, then SIGKILL. True if something was stopped."""
        pid = self.terminate()
        if pid is None:
            return False
        self.finish_stop(pid, timeout_s)
        return True

    def terminate(self) -> int | None:
        """Send SIGTERM to the process group without waiting; the pid, or None when not running."""
        pid = self.pid()
        if pid is not None:
            self._signal(pid, signal.SIGTERM)
        return pid

    def finish_stop(self, pid: int, timeout_s: float) -> None:
        """Wait for a terminated ``pid`` to exit; SIGKILL its group after ``timeout_s``."""
        if not self._wait_gone(pid, timeout_s):
            logger.warning("%s (pid %s) did not stop within %.0fs: killing it", self.name, pid, timeout_s)
            self._signal(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self._cleanup(pid)

    def kill(self) -> bool:
        """SIGKILL the process group at once (a crash, for fault tests)."""
        pid = self.pid()
        if pid is None:
            return False
        self._signal(pid, signal.SIGKILL)
        self._wait_gone(pid, 10.0)
        self._cleanup(pid)
        return True

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)  # started with start_new_session: pid == pgid, children included
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._reap()
            if not pid_alive(pid) and not _group_alive(pid):
                return True
            time.sleep(0.1)
        return False

    def _reap(self) -> None:
        if self._popen is not None:
            self._popen.poll()

    def _cleanup(self, pid: int) -> None:
        self._reap()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # stragglers (e.g. server workers) of the group
        with contextlib.suppress(OSError):
            self.pid_file.unlink()
        self._popen = None


def _group_alive(pgid: int) -> bool:
    """True when a live (non-zombie) process remains in process group ``pgid``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (proc / "stat").read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False
