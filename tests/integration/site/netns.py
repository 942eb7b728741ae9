"""Hosts as Linux network namespaces on one bridge: each has its own address, and a cable to pull.

Every name starts with ``flsite`` (namespaces ``flsite-<host>``, bridge ``flsite0``, host-side veths
``flsite-<n>``), so leftovers of a killed earlier run are found and removed by name before a new run, and
nothing else on the machine is touched. Addresses are 10.213.0.0/24: the bridge (the test process's side)
is .1, host ``n`` is ``.10 + n``. Needs root and iproute2; ``unavailable()`` says why not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass

logger = logging.getLogger(__name__)

PREFIX = "flsite"
BRIDGE = f"{PREFIX}0"
SUBNET = "10.213.0"
BRIDGE_ADDRESS = f"{SUBNET}.1"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def unavailable() -> str | None:
    """Why namespaces cannot be used here (None when they can): not root, no ``ip``, or no permission."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = f"{PREFIX}-probe"
    _ip("netns", "del", probe, check=False)
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass(frozen=True)
class Host:
    """One namespace: ``name`` (e.g. ``kafka-1``), its address and the host-side end of its cable."""

    name: str
    index: int

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def address(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def cable(self) -> str:  # the host-side veth, on the bridge (15 characters at most)
        return f"{PREFIX}-{self.index}"

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host (``ip netns exec`` execs it: the child's pid is argv's)."""
        return ["ip", "netns", "exec", self.netns, *argv]


def kill_inside(netns: str) -> list[int]:
    """SIGKILL what still runs in ``netns`` (only this test starts processes there)."""
    pids = [int(p) for p in _ip("netns", "pids", netns, check=False).stdout.split() if p.isdigit()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def remove_stale() -> list[str]:
    """Delete every ``flsite`` namespace and link (a killed run's leftovers); return what was removed."""
    removed = []
    for line in _ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(PREFIX):
            kill_inside(name)
            _ip("netns", "del", name, check=False)
            removed.append(name)
    for line in _ip("-o", "link", "show").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(PREFIX):
            _ip("link", "del", name, check=False)
            removed.append(name)
    if removed:
        logger.warning("removed leftovers of an earlier site test: %s", ", ".join(removed))
    return removed


class Network:
    """The bridge and the hosts on it. ``create`` builds everything; ``destroy`` removes it (idempotent)."""

    def __init__(self, names: list[str]) -> None:
        self.hosts = {name: Host(name, i + 1) for i, name in enumerate(names)}

    def create(self) -> None:
        remove_stale()
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for host in self.hosts.values():
            peer = f"{PREFIX}p{host.index}"
            _ip("netns", "add", host.netns)
            _ip("link", "add", host.cable, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", host.netns)
            _ip("link", "set", host.cable, "master", BRIDGE)
            _ip("link", "set", host.cable, "up")
            inside = ["netns", "exec", host.netns, "ip"]
            _ip(*inside, "link", "set", "lo", "up")
            _ip(*inside, "link", "set", peer, "name", "eth0")
            _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
        logger.info("site network: %s", ", ".join(f"{h.name} {h.address}" for h in self.hosts.values()))

    def cut(self, name: str) -> None:
        """Pull ``name``'s cable: it reaches nothing (brokers, central) until ``heal``."""
        _ip("link", "set", self.hosts[name].cable, "down")

    def heal(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].cable, "up")

    def destroy(self) -> None:
        for host in self.hosts.values():
            kill_inside(host.netns)
            _ip("netns", "del", host.netns, check=False)
            _ip("link", "del", host.cable, check=False)
        _ip("link", "del", BRIDGE, check=False)
