"""Settings of the API process, from ``FACTORYLOOP_API_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryloop.settings import KafkaSettings, factoryloop_home


def _default_database_url() -> str:
    return f"sqlite:///{factoryloop_home() / 'api' / 'factoryloop.db'}"


def _default_frames_dir() -> Path:
    return factoryloop_home() / "api" / "frames"


class ApiSettings(BaseSettings):
    """Everything the API server, its sink and its CLI need. Frozen: build a new one to change it."""

    model_config = SettingsConfigDict(env_prefix="FACTORYLOOP_API_", frozen=True, extra="ignore")

    database_url: str = Field(
        default_factory=_default_database_url,
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user:pw@host/db.",
    )
    frames_dir: Path = Field(default_factory=_default_frames_dir, description="Local frame store root.")
    products_dir: Path | None = Field(
        default=None,
        description="The product catalog (factoryloop.products); None: default_catalog_root() "
        "($FACTORYLOOP_DATASETS or $FACTORYLOOP_HOME/datasets, + /products).",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    mlflow_tracking_uri: str = "http://127.0.0.1:5000"
    mlflow_timeout_s: float = Field(default=5.0, gt=0)
    token_pepper: SecretStr = Field(
        default=SecretStr("factoryloop-dev-pepper"),
        description="Secret mixed into token hashes (HMAC-SHA256). Set it in production.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    run_sink: bool = Field(default=True, description="`serve` runs the Kafka sink in a background thread.")
    sink_group_id: str = "factoryloop-api-sink"
    sink_batch_size: int = Field(default=2000, ge=1, le=100_000)
    sink_poll_timeout_ms: int = Field(default=200, ge=10, le=60_000)
    offline_after_s: float = Field(default=30.0, gt=0, description="An agent is offline after this silence.")
    shift_hours: int = Field(default=8, ge=1, le=24)
    shift_start_hour: int = Field(default=6, ge=0, le=23, description="UTC hour the first shift starts.")
    auto_migrate: bool = Field(default=True, description="Apply database migrations at startup.")
    secure_cookies: bool = Field(
        default=False, description="Mark the dashboard cookie Secure (behind HTTPS)."
    )


@lru_cache(maxsize=1)
def get_settings() -> ApiSettings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` after changing the env)."""
    return ApiSettings()
