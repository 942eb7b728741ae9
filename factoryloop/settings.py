"""Settings shared by every process: how to reach Kafka and where local state lives.

Each process (agent, trainer, API) has its own frozen settings object with its own env prefix and a
``get_settings()``; they embed :class:`KafkaSettings`, read from ``FACTORYLOOP_KAFKA_*``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryloop.topics import TopicNames


def factoryloop_home() -> Path:
    """State directory of this machine: ``$FACTORYLOOP_HOME`` or ``~/.factoryloop``."""
    return Path(os.environ.get("FACTORYLOOP_HOME") or Path.home() / ".factoryloop").expanduser()


def datasets_root() -> Path:
    """The dataset store (and product catalog) folder: ``$FACTORYLOOP_DATASETS``, else ``<home>/datasets``."""
    env = os.environ.get("FACTORYLOOP_DATASETS")
    return Path(env).expanduser() if env else factoryloop_home() / "datasets"


class KafkaSettings(BaseSettings):
    """Connection to the Kafka cluster. Env: ``FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS`` and friends."""

    model_config = SettingsConfigDict(env_prefix="FACTORYLOOP_KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="Comma-separated host:port list.")
    topic_prefix: str = Field(default="factoryloop.", pattern=r"^[A-Za-z0-9._\-]*$")
    client_id: str = "factoryloop"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    request_timeout_ms: int = Field(default=30_000, ge=1000)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_prefix)

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments common to kafka-python's producer, consumer and admin client."""
        cfg: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()],
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism:
            cfg["sasl_mechanism"] = self.sasl_mechanism
            cfg["sasl_plain_username"] = self.sasl_username
            cfg["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        if self.ssl_cafile:
            cfg["ssl_cafile"] = str(self.ssl_cafile)
        return cfg


@lru_cache(maxsize=1)
def get_kafka_settings() -> KafkaSettings:
    return KafkaSettings()
