"""Apache Kafka in KRaft mode as local processes: one combined node, or a cluster of three.

A ``KafkaCluster`` owns a state directory: ``cluster-id`` (kept so storage is formatted once and data survives
restarts) and one ``kafka-<id>/`` folder per node with its ``server.properties``, log file, pid file and data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kafka.admin import KafkaAdminClient

from factoryloop.stack.errors import ServiceStartError, StackError
from factoryloop.stack.jars import require_jars, require_java
from factoryloop.stack.kafka_config import (
    LOG4J2_PROPERTIES,
    BrokerSecurity,
    NodeSpec,
    new_cluster_id,
    render_server_config,
    scram_format_args,
    secure_server_config,
    to_properties,
)
from factoryloop.stack.process import ManagedProcess, check_ports, log_tail, port_open

logger = logging.getLogger(__name__)

#: How a broker's JVM runs: ``tuned``, G1 tuned for short pauses (what a site runs); ``light``, the C1
#: compiler only and the serial collector: a start (to ready, topics made, 20 s idle) measured 0.58x the CPU
#: (bench/bench_kafka_jvm.py); for a dev box or a test suite that starts many brokers (lower peak
#: throughput).
JVM_MODES: dict[str, list[str]] = {
    "tuned": [
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
    ],
    "light": ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.awt.headless=true"],
}
# The one-shot storage format: a short-lived JVM starts faster with C1 only and the serial collector.
_TOOL_OPTS = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]


class KafkaNode:
    """One combined broker+controller process."""

    def __init__(
        self,
        spec: NodeSpec,
        voters: list[NodeSpec],
        node_dir: Path,
        jars_dir: Path,
        heap: str,
        security: BrokerSecurity | None = None,
        jvm: str = "tuned",
    ) -> None:
        self.spec = spec
        self.jvm_opts = JVM_MODES[jvm]
        self.security = security  # None: the plaintext local stack
        self.voters = voters
        self.node_dir = node_dir
        self.jars_dir = jars_dir
        self.heap = heap.split()
        self.config_file = node_dir / "server.properties"
        self.log4j_file = node_dir / "log4j2.properties"
        self.process = ManagedProcess(
            f"kafka-{spec.node_id}",
            node_dir / "kafka.pid",
            node_dir / "kafka.log",
            marker=str(self.config_file),
        )

    @property
    def bootstrap(self) -> str:
        return self.spec.bootstrap

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def running(self) -> bool:
        return self.process.running()

    def _java(self, main: str, *args: str, jvm_opts: list[str] | None = None) -> list[str]:
        return [
            require_java(),
            *(self.heap + self.jvm_opts if jvm_opts is None else jvm_opts),
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            f"{require_jars(self.jars_dir)}/*",
            main,
            *args,
        ]

    def prepare(self, cluster_id: str) -> None:
        """Write the configuration and format the storage unless it already is."""
        self.node_dir.mkdir(parents=True, exist_ok=True)
        config = render_server_config(self.spec, self.voters)
        if self.security is not None:
            config = secure_server_config(config, self.spec, self.security)
            # Secured: the file holds the keystore and inter-broker passwords.
            fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(to_properties(config))
        else:
            self.config_file.write_text(to_properties(config))
        self.log4j_file.write_text(LOG4J2_PROPERTIES)
        if (self.spec.data_dir / "meta.properties").is_file():
            return
        args = ["format", f"--cluster-id={cluster_id}", "-c", str(self.config_file)]  # ids may start with "-"
        if self.security is not None:
            args += scram_format_args(self.security)  # SCRAM users exist before the first start
        cmd = self._java("kafka.tools.StorageTool", *args, jvm_opts=_TOOL_OPTS)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise StackError(
                f"formatting Kafka storage of node {self.spec.node_id} failed (exit {proc.returncode}):\n"
                f"{(proc.stdout + proc.stderr)[-3000:]}"
            )

    def start(self, cluster_id: str) -> None:
        """Start the node in the background (no-op when already running); does not wait for readiness."""
        if self.running():
            return
        require_jars(self.jars_dir)
        check_ports(
            self.spec.host,
            {
                f"Kafka node {self.spec.node_id} client listener": self.spec.port,
                f"Kafka node {self.spec.node_id} controller listener": self.spec.controller_port,
            },
        )
        self.prepare(cluster_id)
        self.process.start(self._java("kafka.Kafka", str(self.config_file)), cwd=self.node_dir)

    def stop(self, timeout_s: float = 20.0) -> bool:
        return self.process.stop(timeout_s)

    def kill(self) -> bool:
        return self.process.kill()

    def check_alive(self) -> None:
        if self.process.exited():
            raise ServiceStartError(
                f"Kafka node {self.spec.node_id} exited during start-up; log {self.log_file}:\n"
                f"{log_tail(self.log_file)}"
            )


def broker_count(bootstrap: str, timeout_ms: int = 5000, client_config: dict[str, str] | None = None) -> int:
    """Number of live brokers the cluster at ``bootstrap`` reports (0 when unreachable)."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=timeout_ms,
            client_id="factoryloop-stack-probe",
            **(client_config or {}),
        )
    except Exception as exc:  # kafka-python raises NoBrokersAvailable and friends while a broker boots
        logger.debug("probe of %s failed: %r", bootstrap, exc)
        return 0
    try:
        return len(admin.describe_cluster().get("brokers", []))
    except Exception as exc:
        logger.debug("describe_cluster on %s failed: %r", bootstrap, exc)
        return 0
    finally:
        with contextlib.suppress(Exception):
            admin.close()


class KafkaCluster:
    """One or three KRaft nodes sharing a cluster id, managed from ``state_dir``."""

    def __init__(self, state_dir: Path, nodes: list[KafkaNode]) -> None:
        self.state_dir = state_dir
        self.nodes = nodes
        security = nodes[0].security if nodes else None
        self.probe_config = security.client_config() if security is not None else None
        self.start_seconds: float | None = None  # how long the last full start took (measurements, logs)

    @classmethod
    def create(
        cls,
        state_dir: Path,
        jars_dir: Path,
        ports: list[tuple[int, int]],
        host: str = "127.0.0.1",
        heap: str = "-Xms256m -Xmx512m",
        security: BrokerSecurity | None = None,
        jvm: str = "tuned",
    ) -> KafkaCluster:
        """A cluster of ``len(ports)`` nodes; ``ports[i]`` is (client port, controller port) of node i+1.

        ``security`` (from a site folder: :meth:`factoryloop.site.security.Site.broker_security`): TLS,
        SASL/SCRAM and ACLs instead of the plaintext local stack. ``jvm``: a key of :data:`JVM_MODES`."""
        specs = [
            NodeSpec(i + 1, host, port, cport, state_dir / f"kafka-{i + 1}" / "data")
            for i, (port, cport) in enumerate(ports)
        ]
        nodes = [
            KafkaNode(s, specs, state_dir / f"kafka-{s.node_id}", jars_dir, heap, security, jvm)
            for s in specs
        ]
        return cls(state_dir, nodes)

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers, comma separated."""
        return ",".join(n.bootstrap for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return 1 if len(self.nodes) < 3 else 3

    def cluster_id(self) -> str:
        path = self.state_dir / "cluster-id"
        if path.is_file():
            return path.read_text().strip()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cid = new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def running(self) -> bool:
        return any(n.running() for n in self.nodes)

    def start(self, timeout_s: float = 120.0) -> None:
        """Start every node (idempotent) and wait until all are brokers of the cluster."""
        cid = self.cluster_id()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:  # formatting takes seconds a node
                list(pool.map(lambda node: node.start(cid), self.nodes))
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started

    def wait_ready(self, timeout_s: float = 120.0, nodes: list[KafkaNode] | None = None) -> None:
        """Wait until ``nodes`` (default: all) accept connections and the cluster reports them as brokers."""
        nodes = self.nodes if nodes is None else nodes
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            for node in nodes:
                node.check_alive()
            if all(port_open(n.spec.host, n.spec.port) for n in nodes):
                live = [n for n in self.nodes if n.running()]
                live_bootstrap = ",".join(n.bootstrap for n in live)
                if broker_count(live_bootstrap, client_config=self.probe_config) >= len(live):
                    logger.info("Kafka ready at %s in %.1fs", self.bootstrap, time.monotonic() - started)
                    return
            time.sleep(0.5)
        tails = "\n".join(f"--- {n.log_file}\n{log_tail(n.log_file, 20)}" for n in nodes)
        raise ServiceStartError(f"Kafka at {self.bootstrap} not ready within {timeout_s:.0f}s:\n{tails}")

    def stop(self, timeout_s: float = 20.0) -> bool:
        """Stop every node at once (one by one, the last would wait for a lost quorum); True if any ran."""
        pids = [(n, n.process.terminate()) for n in self.nodes]
        for node, pid in pids:
            if pid is not None:
                node.process.finish_stop(pid, timeout_s)
        return any(pid is not None for _, pid in pids)

    def stop_node(self, index: int, timeout_s: float = 20.0) -> None:
        """Clean shutdown of node ``index`` (0-based)."""
        self.nodes[index].stop(timeout_s)

    def kill_node(self, index: int) -> None:
        """SIGKILL node ``index`` (0-based): a crash."""
        self.nodes[index].kill()

    def start_node(self, index: int, timeout_s: float = 120.0) -> None:
        """(Re)start node ``index`` (0-based) and wait until it has rejoined."""
        node = self.nodes[index]
        node.start(self.cluster_id())
        self.wait_ready(timeout_s, nodes=[node])
