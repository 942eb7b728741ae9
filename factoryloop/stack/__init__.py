"""The local stack: Apache Kafka (KRaft) and an MLflow tracking server run as plain local processes.

No containers: Kafka runs from jars fetched with Maven, MLflow from the installed ``mlflow`` package.
Used by ``factoryloop stack`` and by the test fixtures in ``tests/conftest.py``.
"""

from factoryloop.stack.errors import (
    JarsMissingError,
    PortInUseError,
    ServiceStartError,
    StackError,
    ToolMissingError,
)
from factoryloop.stack.kafka import KafkaCluster, KafkaNode
from factoryloop.stack.mlflow_server import MlflowServer
from factoryloop.stack.settings import StackSettings, get_settings

__all__ = [
    "JarsMissingError",
    "KafkaCluster",
    "KafkaNode",
    "MlflowServer",
    "PortInUseError",
    "ServiceStartError",
    "StackError",
    "StackSettings",
    "ToolMissingError",
    "get_settings",
]
