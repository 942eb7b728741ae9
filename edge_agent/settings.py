"""Process settings of the edge agent (environment, not the line YAML): ``FACTORYLOOP_AGENT_*``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryloop.settings import factoryloop_home


def _default_state_dir() -> Path:
    return factoryloop_home() / "agent"


class AgentSettings(BaseSettings):
    """Secrets and machine-local paths. The line YAML describes the line; this describes the box."""

    model_config = SettingsConfigDict(env_prefix="FACTORYLOOP_AGENT_", frozen=True, extra="ignore")

    state_dir: Path = Field(
        default_factory=_default_state_dir, description="Persisted model, default buffer dir."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="Base URL for mlflow-artifacts:/ and runs:/."
    )
    signing_key: SecretStr | None = Field(default=None, description="HMAC-SHA256 key for model signatures.")
    require_signature: bool = Field(default=False, description="Refuse deployments without a signature.")
    download_timeout_s: float = Field(default=120.0, gt=0)
    max_artifact_bytes: int = Field(default=512 * 1024 * 1024, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> AgentSettings:
    return AgentSettings()
