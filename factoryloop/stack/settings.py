"""Settings of the local stack, from ``FACTORYLOOP_STACK_*`` env vars and ``FACTORYLOOP_HOME``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

KAFKA_VERSION = "4.1.2"


class StackSettings(BaseSettings):
    """Where the local stack keeps its files and which ports it listens on."""

    model_config = SettingsConfigDict(env_prefix="FACTORYLOOP_STACK_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path("~/.factoryloop"),
        validation_alias=AliasChoices("FACTORYLOOP_HOME", "FACTORYLOOP_STACK_HOME"),
        description="Root of jars cache and stack state (FACTORYLOOP_HOME).",
    )
    jars: Path | None = Field(default=None, description="Kafka jars folder override.")
    host: str = "127.0.0.1"
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    controller_port: int = Field(default=9093, ge=1, le=65535)
    mlflow_port: int = Field(default=5000, ge=1, le=65535)
    api_port: int = Field(default=8000, ge=1, le=65535)
    kafka_version: str = KAFKA_VERSION
    kafka_heap: str = "-Xms256m -Xmx512m"
    cluster_heap: str = "-Xms256m -Xmx384m"
    kafka_jvm: Literal["tuned", "light"] = Field(
        default="tuned",
        description="The brokers' JVM: 'tuned' (G1, short pauses) or 'light' (C1 only, serial GC: ~45 % less "
        "CPU to start; for a small dev box and the test suite, which sets it)",
    )
    # First port of the 3-node cluster: node i listens on base+2i (client) and base+2i+1 (controller).
    cluster_base_port: int = Field(default=19092, ge=1, le=65529)
    start_timeout_s: float = Field(default=120.0, gt=0)
    stop_timeout_s: float = Field(default=20.0, gt=0)

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def jars_dir(self) -> Path:
        if self.jars is not None:
            return self.jars.expanduser()
        return self.home_dir / "jars" / f"kafka-{self.kafka_version}"

    @property
    def state_dir(self) -> Path:
        return self.home_dir / "stack"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def mlflow_uri(self) -> str:
        return f"http://{self.host}:{self.mlflow_port}"


@lru_cache(maxsize=1)
def get_settings() -> StackSettings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` after changing the env)."""
    return StackSettings()
