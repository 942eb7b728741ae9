"""The local stack as a whole: Kafka (one node, or three with ``cluster=True``) and MLflow, one state dir.

Layout of ``$FACTORYLOOP_HOME/stack/``: ``kafka/`` (single node), ``kafka-cluster/`` (3 nodes), ``mlflow/``;
each service folder holds its pid file, log file and data, so ``up``/``down``/``status`` work from any shell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from factoryloop.stack.api_server import ApiServer
from factoryloop.stack.errors import StackError
from factoryloop.stack.jars import fetch_kafka_jars, require_java
from factoryloop.stack.kafka import KafkaCluster, broker_count
from factoryloop.stack.mlflow_server import MlflowServer
from factoryloop.stack.settings import StackSettings

logger = logging.getLogger(__name__)

SERVICES = ("kafka", "kafka-cluster", "mlflow", "api")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    running: bool
    healthy: bool
    pids: tuple[int, ...]


class LocalStack:
    """Start, stop and inspect the local services described by ``settings``."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        state = settings.state_dir
        host = settings.host
        self.kafka = KafkaCluster.create(
            state / "kafka",
            settings.jars_dir,
            [(settings.kafka_port, settings.controller_port)],
            host=host,
            heap=settings.kafka_heap,
            jvm=settings.kafka_jvm,
        )
        base = settings.cluster_base_port
        self.cluster = KafkaCluster.create(
            state / "kafka-cluster",
            settings.jars_dir,
            [(base + 2 * i, base + 2 * i + 1) for i in range(3)],
            host=host,
            heap=settings.cluster_heap,
            jvm=settings.kafka_jvm,
        )
        self.mlflow = MlflowServer(state / "mlflow", settings.mlflow_port, host=host)
        self.api = ApiServer(
            state / "api",
            settings.api_port,
            kafka_bootstrap=self.kafka.bootstrap,
            mlflow_uri=self.mlflow.uri,
            host=host,
        )

    def fetch(self) -> Path:
        return fetch_kafka_jars(self.settings.jars_dir, self.settings.kafka_version)

    def active_kafka(self) -> KafkaCluster | None:
        for kafka in (self.kafka, self.cluster):
            if kafka.running():
                return kafka
        return None

    def up(self, cluster: bool = False, mlflow: bool = True, api: bool = False) -> list[str]:
        """Start what is not running yet and create the topics; returns one line per service."""
        require_java()
        wanted, other = (self.cluster, self.kafka) if cluster else (self.kafka, self.cluster)
        if other.running():
            kind = "single-node" if cluster else "3-node"
            raise StackError(
                f"the {kind} Kafka is running at {other.bootstrap}: run `factoryloop stack down` first."
            )
        self.fetch()
        lines = []
        timeout = self.settings.start_timeout_s
        if wanted.running():
            lines.append(f"kafka: already running at {wanted.bootstrap}")
            wanted.wait_ready(timeout)
        else:
            wanted.start(timeout)
            lines.append(f"kafka: started at {wanted.bootstrap}")
        created = create_topics(wanted.bootstrap, wanted.replication_factor)
        lines.append(f"topics: created {', '.join(created)}" if created else "topics: all present")
        if mlflow:
            if self.mlflow.running():
                lines.append(f"mlflow: already running at {self.mlflow.uri}")
            else:
                self.mlflow.start(timeout)
                lines.append(f"mlflow: started at {self.mlflow.uri}")
        if api:
            self.api.kafka_bootstrap = wanted.bootstrap
            if self.api.running():
                lines.append(f"api: already running at {self.api.uri}")
            else:
                self.api.start(timeout)
                lines.append(f"api: started at {self.api.uri} (dashboard {self.api.uri}/)")
        return lines

    def down(self) -> list[str]:
        stop_s = self.settings.stop_timeout_s
        lines = []
        for name, stopped in (
            ("api", self.api.stop(stop_s)),
            ("mlflow", self.mlflow.stop(stop_s)),
            ("kafka", self.kafka.stop(stop_s)),
            ("kafka-cluster", self.cluster.stop(stop_s)),
        ):
            lines.append(f"{name}: stopped" if stopped else f"{name}: not running")
        return lines

    def status(self) -> list[ServiceStatus]:
        out = []
        for name, kafka in (("kafka", self.kafka), ("kafka-cluster", self.cluster)):
            pids = tuple(p for n in kafka.nodes if (p := n.process.pid()) is not None)
            if not pids and (name == "kafka-cluster" or self.cluster.running()):
                continue  # list the cluster only while it runs, and then instead of the single node
            healthy = bool(pids) and broker_count(kafka.bootstrap, timeout_ms=3000) >= len(pids)
            out.append(ServiceStatus(name, kafka.bootstrap, bool(pids), healthy, pids))
        pid = self.mlflow.process.pid()
        healthy = pid is not None and self.mlflow.healthy()
        out.append(ServiceStatus("mlflow", self.mlflow.uri, pid is not None, healthy, (pid,) if pid else ()))
        pid = self.api.process.pid()
        if pid is not None:  # the API is optional: listed while it runs
            out.append(ServiceStatus("api", self.api.uri, True, self.api.healthy(), (pid,)))
        return out

    def log_files(self, service: str) -> list[Path]:
        if service == "mlflow":
            return [self.mlflow.log_file]
        if service == "api":
            return [self.api.log_file]
        if service == "kafka":
            return [n.log_file for n in self.kafka.nodes]
        if service == "kafka-cluster":
            return [n.log_file for n in self.cluster.nodes]
        raise StackError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")


def create_topics(bootstrap: str, replication_factor: int) -> list[str]:
    """Create factoryloop's topics (under the configured prefix) that do not exist yet; the names created."""
    from factoryloop.kafka.admin import ensure_topics  # imported late: only ``up`` needs it
    from factoryloop.settings import KafkaSettings

    return ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), replication_factor=replication_factor)
