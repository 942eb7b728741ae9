"""What the MQTT sink and trigger share in the line YAML: the broker, TLS and the user.

Secrets never live in the YAML: ``password_env`` names the environment variable that holds the password,
``password_file`` a file (mode 0600) that holds it; a ``password:`` key is refused with a message saying so.
Both are read at every connect, so a fixed password needs no agent restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from edge_agent.config.common import _Cfg

MQTT_PORT = 1883
MQTTS_PORT = 8883
PASSWORD_REFUSED = (
    "a password is never written in the line YAML: put it in an environment variable and name the "
    "variable in password_env (e.g. password_env: FACTORYLOOP_MQTT_PASSWORD, set by the unit's "
    "EnvironmentFile), or in a file readable only by the agent (mode 0600) named in password_file"
)


class MqttTls(_Cfg):
    """TLS to the broker: the broker's certificate is always verified (against ``ca_file``, or the
    system's CA store when it is not given); ``cert_file`` + ``key_file`` add a client certificate."""

    ca_file: Path | None = Field(None, description="PEM CA certificate(s) the broker's chain must end in.")
    cert_file: Path | None = Field(None, description="PEM client certificate, for brokers that ask one.")
    key_file: Path | None = Field(None, description="PEM private key of cert_file (not encrypted).")
    check_hostname: bool = Field(
        True, description="The broker's certificate must name the host; false only for an IP without SAN."
    )

    @model_validator(mode="after")
    def _pair(self) -> MqttTls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (the client certificate and its key)")
        return self


class MqttEndpoint(_Cfg):
    """The connection part of ``type: mqtt`` sinks and triggers. ``port`` defaults to 8883 with ``tls``,
    1883 without."""

    host: str
    port: int = Field(MQTT_PORT, ge=1, le=65535)
    client_id: str | None = None
    tls: MqttTls | None = None
    username: str | None = Field(None, min_length=1, max_length=256)
    password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the password (never the password itself).",
    )
    password_file: Path | None = Field(None, description="A file holding the password (mode 0600).")
    password: Any = Field(None, description="Refused: see password_env and password_file.")

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tls") is not None and "port" not in data:
            return {**data, "port": MQTTS_PORT}
        return data

    @field_validator("password", mode="before")
    @classmethod
    def _no_password(cls, value: Any) -> None:
        if value is not None:
            raise ValueError(PASSWORD_REFUSED)
        return None

    @model_validator(mode="after")
    def _user(self) -> MqttEndpoint:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("give password_env or password_file, not both")
        if (self.password_env is not None or self.password_file is not None) and self.username is None:
            raise ValueError("a password (password_env / password_file) needs a username")
        return self
