"""A local HTTP service run as a managed background process, ready when its health URL answers 200."""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from factoryloop.stack.errors import ServiceStartError
from factoryloop.stack.process import ManagedProcess, check_ports, log_tail

logger = logging.getLogger(__name__)


def health(url: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class HttpService:
    """Subclasses name the service and give its command, health path and environment."""

    label = "service"
    health_path = "/health"

    def __init__(self, name: str, state_dir: Path, port: int, host: str, marker: str) -> None:
        """``marker``: a string of the command line that tells this service's process from others."""
        self.state_dir = state_dir
        self.host = host
        self.port = port
        self.process = ManagedProcess(
            name, state_dir / f"{name}.pid", state_dir / f"{name}.log", marker=marker
        )

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def running(self) -> bool:
        return self.process.running()

    def healthy(self) -> bool:
        return health(f"{self.uri}{self.health_path}")

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def prepare(self) -> None:
        """Create what the service needs on disk before it starts."""

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the service unless running, then wait until it is healthy."""
        if not self.running():
            check_ports(self.host, {self.label: self.port})
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.prepare()
            self.process.start(self.command(), env=self.environment(), cwd=self.state_dir)
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout_s: float) -> None:
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.process.exited():
                raise ServiceStartError(
                    f"{self.label} exited during start-up; log {self.log_file}:\n{log_tail(self.log_file)}"
                )
            if self.healthy():
                logger.info("%s ready at %s in %.1fs", self.label, self.uri, time.monotonic() - started)
                return
            time.sleep(0.5)
        raise ServiceStartError(
            f"{self.label} at {self.uri} not healthy within {timeout_s:.0f}s; log {self.log_file}:\n"
            f"{log_tail(self.log_file)}"
        )

    def stop(self, timeout_s: float = 20.0) -> bool:
        return self.process.stop(timeout_s)
