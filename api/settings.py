"""Settings of the API process, from ``FACTORYLOOP_API_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.errors import InsecureSettingsError
from api.services.shifts import ShiftCalendar, ShiftSpec, check_shifts, zone
from factoryloop.settings import KafkaSettings, factoryloop_home

PLACEHOLDER_PEPPER = "factoryloop-dev-pepper"
MIN_PEPPER_CHARS = 16


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
    environment: Literal["local", "site"] = Field(
        default="site",
        description="'local' (the local stack, demo, tests) accepts the placeholder token pepper; 'site' "
        "(the default) refuses to start with it.",
    )
    token_pepper: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_PEPPER),
        description="Secret mixed into token hashes (HMAC-SHA256). Required on a site (environment=site).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    run_sink: bool = Field(default=True, description="`serve` runs the Kafka sink in a background thread.")
    sink_group_id: str = "factoryloop-api-sink"
    sink_batch_size: int = Field(default=2000, ge=1, le=100_000)
    sink_poll_timeout_ms: int = Field(default=200, ge=10, le=60_000)
    sink_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the /metrics of `api sink` (its N processes: this port + 0..N-1); 0: none. "
        'Sites: 931<instance> (factoryloop-sink@1: 9311, @2: 9312, ...; docs/operations.md "Monitoring"). '
        "A sink inside `serve` reports on the API's own /metrics.",
    )
    offline_after_s: float = Field(default=30.0, gt=0, description="An agent is offline after this silence.")
    shift_hours: int = Field(default=8, ge=1, le=24)
    shift_start_hour: int = Field(default=6, ge=0, le=23, description="First shift's hour (timezone).")
    timezone: str = Field(default="UTC", description="The site's IANA time zone: its shifts and days.")
    shifts: tuple[ShiftSpec, ...] | None = Field(
        default=None,
        description='The shift calendar (JSON): [{"name": "early", "start": "06:00", "end": "14:00"}, ...] '
        "in the site's time zone, covering the day; None: shift_hours from shift_start_hour, named by hours.",
    )
    auto_migrate: bool = Field(default=True, description="Apply database migrations at startup.")
    secure_cookies: bool = Field(
        default=False, description="Mark the dashboard cookie Secure (behind HTTPS)."
    )
    kafka_probe_s: float = Field(
        default=5.0, gt=0, le=300, description="How often the API checks that a Kafka broker answers."
    )
    kafka_timeout_s: float = Field(
        default=3.0, gt=0, le=60, description="How long one check (or the sink's connect) waits for Kafka."
    )
    alerts_file: Path | None = Field(
        default=None,
        description="The site's alert rules and channels (YAML, see docs/api.md); None: no alert thread.",
    )
    alerts_interval_s: float = Field(default=30.0, gt=0, le=3600, description="How often the rules run.")
    smtp_host: str | None = Field(default=None, description="SMTP server of the e-mail alert channels.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, description="STARTTLS before logging in and sending.")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = Field(default=None, description="FACTORYLOOP_API_SMTP_PASSWORD.")
    smtp_from: str = "factoryloop@localhost"
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Retention (`factoryloop api prune`, docs/operations.md "Retention"): days; 0 or unset keeps forever.
    retention_outcomes_days: int | None = Field(
        default=90, ge=0, description="Inspections and detections; the hourly summaries stay forever."
    )
    retention_frames_days: int | None = Field(
        default=30, ge=0, description="Stored frames (never one a queued or kept review shows)."
    )
    retention_review_queue_days: int | None = Field(default=14, ge=0, description="Unreviewed queue entries.")
    retention_reviews_days: int | None = Field(default=0, ge=0, description="Reviews (labels' audit trail).")
    retention_heartbeats_days: int | None = Field(default=30, ge=0)
    retention_agent_events_days: int | None = Field(default=365, ge=0)
    retention_alerts_days: int | None = Field(default=365, ge=0, description="Resolved alerts, by firing.")
    retention_rollouts_days: int | None = Field(default=0, ge=0, description="Finished rollouts' events.")
    retention_batch_size: int = Field(default=2000, ge=1, le=50_000, description="Rows per transaction.")

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        return zone(value).key  # an unknown zone, or one off whole hours, fails at startup naming it

    @field_validator("shifts")
    @classmethod
    def _check_shifts(cls, value: tuple[ShiftSpec, ...] | None) -> tuple[ShiftSpec, ...] | None:
        return None if value is None else check_shifts(value)  # a gap, overlap or repeated name fails

    def shift_calendar(self) -> ShiftCalendar:
        """The site's shifts and time zone (``shifts``, else ``shift_hours`` from ``shift_start_hour``)."""
        return _calendar(self.shifts, self.timezone, self.shift_hours, self.shift_start_hour)

    def check_site_secrets(self) -> None:
        """Refuse the placeholder (or a short) token pepper unless this is the local stack.

        Raises :class:`InsecureSettingsError` whose message says how to set one.
        """
        if self.environment == "local":
            return
        pepper = self.token_pepper.get_secret_value()
        if pepper == PLACEHOLDER_PEPPER or len(pepper) < MIN_PEPPER_CHARS:
            what = "the placeholder" if pepper == PLACEHOLDER_PEPPER else f"a {len(pepper)}-character"
            raise InsecureSettingsError(
                f"refusing to start with {what} token pepper on a site: set FACTORYLOOP_API_TOKEN_PEPPER "
                f"to a secret of at least {MIN_PEPPER_CHARS} characters (e.g. the output of "
                "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"'), the same on every API "
                "process of the site; or set FACTORYLOOP_API_ENVIRONMENT=local for a development stack"
            )


@lru_cache(maxsize=16)
def _calendar(
    shifts: tuple[ShiftSpec, ...] | None, timezone: str, shift_hours: int, start_hour: int
) -> ShiftCalendar:
    if shifts is None:
        return ShiftCalendar.uniform(shift_hours, start_hour, timezone)
    return ShiftCalendar.of(shifts, timezone)


@lru_cache(maxsize=1)
def get_settings() -> ApiSettings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` after changing the env)."""
    return ApiSettings()
