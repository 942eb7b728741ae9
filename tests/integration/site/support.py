"""The site under test: three Kafka hosts, a central host with two sinks, two line hosts with an agent each.

Everything is secured as a site is: ``factoryloop site init`` writes the CA, keystores and SCRAM passwords;
the brokers run TLS + SASL_SSL/SCRAM-SHA-512 with the StandardAuthorizer; ``factoryloop site acls`` creates
the topics (RF 3, min ISR 2) and every role's ACLs; each process connects with its role's env file.

The Kafka nodes are *combined* KRaft controller+broker nodes (three JVMs, not six: the 2-core box this runs
on cannot carry six), written by ``factoryloop deploy kafka-config --role combined --site SITE`` (TLS,
SASL_SSL/SCRAM-SHA-512 and the authorizer from the site folder, the salted SCRAM users beside the config).
The unit's ``factoryloop deploy kafka-run`` formats the storage with those users and execs the JVM.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from factoryloop.site.acls import list_acls
from factoryloop.site.security import Site
from factoryloop.stack.kafka import broker_count
from factoryloop.stack.kafka_config import new_cluster_id
from tests.integration.site.hosts import HostDirs, Service, base_env, unit_command
from tests.integration.site.netns import Network

logger = logging.getLogger(__name__)

KAFKA_HOSTS = ("kafka-1", "kafka-2", "kafka-3")
LINE_HOSTS = ("line-1", "line-2")
HOSTS = [*KAFKA_HOSTS, "central", *LINE_HOSTS]
BROKER_PORT, CONTROLLER_PORT, METRICS_PORT = 9092, 9093, 9108
HEAP = "-Xms192m -Xmx384m"
CLI = [sys.executable, "-m", "factoryloop.cli"]


def cli(*args: str, timeout_s: float = 180.0) -> str:
    """A ``factoryloop`` command from the test process (the root namespace, on the bridge)."""
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, f"factoryloop {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class SiteUnderTest:
    def __init__(self, root: Path, jars: Path, fps: float) -> None:
        self.root = root
        self.jars = jars
        self.fps = fps
        self.net = Network(HOSTS)
        self.dirs = {name: HostDirs(root / "hosts", host) for name, host in self.net.hosts.items()}
        self.brokers: dict[int, Service] = {}
        self.sinks: list[Service] = []
        self.agents: dict[str, Service] = {}
        self.db = self.dirs["central"].var / "api" / "api.sqlite"
        self.site: Site
        self.setup_s: dict[str, float] = {}

    # --- the site folder and the Kafka hosts ----------------------------------------------------------

    def init_site(self) -> None:
        folder = self.root / "site"
        brokers = [f"{self.net.hosts[h].address}:{BROKER_PORT}" for h in KAFKA_HOSTS]
        cli("site", "init", str(folder), *(a for b in brokers for a in ("--broker", b)))
        self.site = Site.load(folder)

    def broker_address(self, node_id: int) -> str:
        return self.net.hosts[KAFKA_HOSTS[node_id - 1]].address

    def _write_broker(self, node_id: int, cluster_id: str) -> Path:
        """The node's secured config, as a Kafka host's installer writes it (docs/security.md)."""
        dirs = self.dirs[KAFKA_HOSTS[node_id - 1]]
        address = self.broker_address(node_id)
        quorum = ",".join(f"{i}@{self.broker_address(i)}:{CONTROLLER_PORT}" for i in (1, 2, 3))
        out = dirs.etc / "kafka" / "broker" / "server.properties"
        cli(
            "deploy", "kafka-config", "--role", "combined", "--node-id", str(node_id), "--quorum", quorum,
            "--host", address, "--bind", address, "--port", str(BROKER_PORT),
            "--controller-port", str(CONTROLLER_PORT), "--cluster-id", cluster_id,
            "--data-dir", str(dirs.var / "kafka-broker" / "data"), "--out", str(out),
            "--site", str(self.site.root),
        )  # fmt: skip
        assert out.stat().st_mode & 0o777 == 0o600  # the keystore and inter-broker passwords are in it
        return out

    def start_kafka(self) -> float:
        """Write and start the three nodes (kafka-run formats them); wait until the cluster has three
        brokers."""
        started = time.monotonic()
        cluster_id = new_cluster_id()
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda i: self._write_broker(i, cluster_id), (1, 2, 3)))
        for node_id, host in enumerate(KAFKA_HOSTS, 1):
            dirs = self.dirs[host]
            _pre, argv, env = unit_command("factoryloop-kafka-broker.service", dirs)
            env |= {"FACTORYLOOP_STACK_JARS": str(self.jars), "FACTORYLOOP_STACK_KAFKA_HEAP": HEAP}
            self.brokers[node_id] = Service(f"kafka-{node_id}", dirs, argv, base_env() | env)
            self.brokers[node_id].start()
        self.wait_brokers(3, timeout_s=240)
        return time.monotonic() - started

    def wait_brokers(self, count: int, timeout_s: float = 120.0) -> float:
        started = time.monotonic()
        probe = self.site.broker_security().client_config()
        while time.monotonic() - started < timeout_s:
            for service in self.brokers.values():
                assert service.proc is None or service.alive() or service.proc.returncode is not None
            if broker_count(self.site.bootstrap, timeout_ms=4000, client_config=probe) >= count:
                return time.monotonic() - started
            time.sleep(1.0)
        tails = "\n".join(f"--- {s.name}\n{s.tail(1500)}" for s in self.brokers.values())
        raise AssertionError(f"{count} brokers not up within {timeout_s:.0f} s:\n{tails}")

    def apply_acls(self) -> None:
        cli("site", "acls", str(self.site.root), "--replication-factor", "3")
        admin = self.site.kafka_settings("admin")
        deadline = time.monotonic() + 60
        while len(list_acls(admin)) < 30 and time.monotonic() < deadline:  # applied asynchronously
            time.sleep(0.5)

    # --- central host: two sink processes (factoryloop-sink@1, @2) on SQLite ----------------------------

    def start_sinks(self) -> None:
        dirs = self.dirs["central"]
        self.db.parent.mkdir(parents=True, exist_ok=True)
        secret = self.site.env("api") | {"FACTORYLOOP_API_TOKEN_PEPPER": secrets.token_urlsafe(32)}
        secret["FACTORYLOOP_API_DATABASE_URL"] = f"sqlite:///{self.db}"
        for i in ("1", "2"):
            _pre, argv, env = unit_command("factoryloop-sink@.service", dirs, i, secret)
            service = Service(f"sink-{i}", dirs, argv, base_env() | env)
            service.start()
            self.sinks.append(service)
            if i == "1":  # the first one migrates the database: let it finish before the second starts
                self._wait_migrated(service)

    def _wait_migrated(self, service: Service, timeout_s: float = 120.0) -> None:
        import sqlite3

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert service.alive(), service.tail()
            try:
                with sqlite3.connect(self.db) as conn:
                    conn.execute("SELECT count(*) FROM inspections").fetchone()
                return
            except sqlite3.OperationalError:
                time.sleep(0.5)
        raise AssertionError(f"the sink did not migrate {self.db}:\n{service.tail()}")

    # --- line hosts: one agent each (factoryloop-agent@<camera>) ----------------------------------------

    def start_agents(self, model: Path) -> None:
        for n, host in enumerate(LINE_HOSTS, 1):
            dirs = self.dirs[host]
            camera = f"cam{n}"
            line = {
                "agent_id": f"agent-{host}",
                "line_id": host,
                "station_id": "st-1",
                "source": {
                    "type": "simulated",
                    "fps": self.fps,
                    "seed": n,
                    "sim": {"camera": {"width": 320, "height": 240}},
                },
                "detector": {"onnx": str(model), "threads": 1},
                "sampling": {"pass_rate": 0.0, "rare_class_min_count": 0},
                "kafka": {"delivery_timeout_s": 15},  # the example line's value
                "pipeline": {"capture_queue": 64},
                "heartbeat_interval_s": 2,
                "metrics_port": METRICS_PORT,
            }
            (dirs.etc / "lines").mkdir(parents=True, exist_ok=True)
            (dirs.etc / "lines" / f"{camera}.yaml").write_text(yaml.safe_dump(line))
            pre, argv, env = unit_command("factoryloop-agent@.service", dirs, camera, self.site.env("agent"))
            service = Service(f"agent-{host}", dirs, argv, base_env() | env)
            service.run_pre(pre)
            service.start()
            self.agents[host] = service
        for host, service in self.agents.items():
            deadline = time.monotonic() + 180
            while not self._agent_inspects(host):
                assert service.alive() and time.monotonic() < deadline, f"{host}:\n{service.tail()}"
                time.sleep(1.0)

    def _agent_inspects(self, host: str) -> bool:
        from tests.integration.site.checks import agent_metrics

        metrics = agent_metrics(self.metrics_url(host))
        return metrics is not None and metrics.get("factoryloop_agent_frames_inspected_total", 0) > 0

    def metrics_url(self, line_host: str) -> str:
        return f"http://{self.net.hosts[line_host].address}:{METRICS_PORT}/metrics"

    def tails(self, chars: int = 2500) -> str:
        """The end of every sink's and agent's log: what a failed wait shows."""
        return "\n".join(f"--- {s.name}\n{s.tail(chars)}" for s in [*self.sinks, *self.agents.values()])

    # --- teardown --------------------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Agents and sinks first, then the three brokers at once (one by one, the last would wait for a
        lost quorum)."""
        for service in [*self.agents.values(), *self.sinks]:
            try:
                service.stop(timeout_s=30)
            except Exception:
                logger.exception("stopping %s", service.name)
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda b: b.stop(timeout_s=30), self.brokers.values()))
