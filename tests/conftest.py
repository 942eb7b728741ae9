"""Session fixtures: the real services the tests talk to (no mocks).

Each starts lazily, the first time a test asks for it, and is stopped at session end; an atexit hook (and
SIGTERM) stops whatever is left, so an interrupted run leaves no Kafka or MLflow process behind.

- ``kafka_broker``: a single KRaft node on free ports (``.bootstrap`` is ``"127.0.0.1:PORT"``)
- ``kafka_bootstrap``: its bootstrap string
- ``stoppable_kafka``: a single-node broker of one test alone, which it may stop and restart
- ``topic_factory(partitions=1, config=None, replication_factor=1, prefix="t") -> str``: a fresh topic on it
- ``kafka_cluster``: a 3-node cluster (RF 3, min.insync.replicas=2) with ``stop_node/kill_node/start_node(i)``
  (0-based); every node is running again when a test receives it
- ``mlflow_server``: tracking URI ``"http://127.0.0.1:PORT"`` of an MLflow server (SQLite + local artifacts)

Existing services instead: ``FACTORYLOOP_TEST_KAFKA_BOOTSTRAP``, ``FACTORYLOOP_TEST_MLFLOW_URI``.
Tests using these fixtures get the ``kafka``, ``cluster`` or ``mlflow`` marker automatically.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from factoryloop.stack.errors import PortInUseError, StackError
from factoryloop.stack.jars import fetch_kafka_jars
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.stack.mlflow_server import MlflowServer
from factoryloop.stack.process import free_ports
from factoryloop.stack.settings import StackSettings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline, and thread-safe (training/__init__.py)
os.environ.setdefault("FACTORYLOOP_API_ENVIRONMENT", "local")  # the API's placeholder token pepper is fine

logger = logging.getLogger(__name__)

_MARKERS = {
    "kafka_broker": "kafka",
    "kafka_bootstrap": "kafka",
    "topic_factory": "kafka",
    "kafka_cluster": "cluster",
    "stoppable_kafka": "kafka",
    "mlflow_server": "mlflow",
}
_cleanups: list[Callable[[], object]] = []


def _cleanup_all() -> None:
    while _cleanups:
        with contextlib.suppress(Exception):
            _cleanups.pop()()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _cleanup_all()
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then ends the session as on Ctrl-C


atexit.register(_cleanup_all)
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _on_sigterm)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile`` (./dev test): whole files per worker, the longest first (tests/support)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.support.xdist_schedule import LongestFirstScheduling

    return LongestFirstScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in _MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


def _start_with_retry(make: Callable[[], KafkaCluster | MlflowServer]) -> KafkaCluster | MlflowServer:
    """Start a service on fresh free ports; pick new ones if another process grabbed one meanwhile."""
    for attempt in range(3):
        service = make()
        _cleanups.append(service.stop)
        try:
            service.start(timeout_s=180.0)
            return service
        except PortInUseError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class ExternalKafka:
    """A broker the session did not start (``FACTORYLOOP_TEST_KAFKA_BOOTSTRAP``)."""

    bootstrap: str


@pytest.fixture(scope="session")
def kafka_jars() -> Path:
    """The Kafka jars folder, fetched with Maven on first use (cached under $FACTORYLOOP_HOME/jars)."""
    settings = StackSettings()
    try:
        return fetch_kafka_jars(settings.jars_dir, settings.kafka_version)
    except StackError as exc:
        pytest.fail(f"cannot provide the Kafka jars: {exc}", pytrace=False)


def _single_node(state: Path, kafka_jars: Path) -> Iterator[KafkaCluster]:
    """A started single-node KRaft broker under ``state`` on free ports; stopped when the caller is done."""

    def make() -> KafkaCluster:
        port, cport = free_ports(2)
        return KafkaCluster.create(state, kafka_jars, [(port, cport)], jvm=StackSettings().kafka_jvm)

    broker = _start_with_retry(make)
    assert isinstance(broker, KafkaCluster)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_broker(
    tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path
) -> Iterator[KafkaCluster | ExternalKafka]:
    """A single-node Kafka (KRaft) on free ports for the whole session; ``.bootstrap`` is host:port."""
    external = os.environ.get("FACTORYLOOP_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield ExternalKafka(external)
        return
    yield from _single_node(tmp_path_factory.mktemp("kafka"), kafka_jars)


@pytest.fixture
def stoppable_kafka(tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path) -> Iterator[KafkaCluster]:
    """A single-node Kafka of this test alone, for tests that stop and restart their broker.

    Never stop the session broker: while it is down, another process (the other test worker) can take one of
    its ports, and it then cannot come back for the rest of the session.
    """
    yield from _single_node(tmp_path_factory.mktemp("kafka-own"), kafka_jars)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaCluster | ExternalKafka) -> str:
    """``host:port`` of the session broker."""
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def topic_factory(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Create a uniquely named topic on the session broker and return its name."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="factoryloop-tests")

    def create(
        partitions: int = 1,
        config: dict[str, str] | None = None,
        replication_factor: int = 1,
        prefix: str = "t",
    ) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        topic = NewTopic(name, partitions, replication_factor, topic_configs=dict(config or {}))
        admin.create_topics([topic], timeout_ms=30_000, wait_for_metadata=True)
        return name

    yield create
    admin.close()


@pytest.fixture(scope="session")
def _kafka_cluster_session(
    tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path
) -> Iterator[KafkaCluster]:
    state = tmp_path_factory.mktemp("kafka-cluster")
    heap, jvm = StackSettings().cluster_heap, StackSettings().kafka_jvm

    def make() -> KafkaCluster:
        p = free_ports(6)
        pairs = [(p[0], p[1]), (p[2], p[3]), (p[4], p[5])]
        return KafkaCluster.create(state, kafka_jars, pairs, heap=heap, jvm=jvm)

    cluster = _start_with_retry(make)
    assert isinstance(cluster, KafkaCluster)
    yield cluster
    cluster.stop()


@pytest.fixture
def kafka_cluster(_kafka_cluster_session: KafkaCluster) -> KafkaCluster:
    """The session's 3-node cluster, every node running (a previous test may have stopped one)."""
    if not all(n.running() for n in _kafka_cluster_session.nodes):
        _kafka_cluster_session.start(timeout_s=180.0)
    return _kafka_cluster_session


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Tracking URI of an MLflow server for the whole session."""
    external = os.environ.get("FACTORYLOOP_TEST_MLFLOW_URI")
    if external:
        yield external
        return
    state = tmp_path_factory.mktemp("mlflow")
    try:
        server = _start_with_retry(lambda: MlflowServer(state, free_ports(1)[0]))
    except StackError as exc:
        pytest.fail(f"cannot start MLflow: {exc}", pytrace=False)
    assert isinstance(server, MlflowServer)
    yield server.uri
    server.stop()
