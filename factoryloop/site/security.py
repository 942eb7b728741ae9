"""A site's security material on disk: the manifest, secret files (0600) and each role's env file.

A site folder (``factoryloop site init``, :mod:`factoryloop.site.init`) holds::

    site.json                   brokers, topic prefix, principals, consumer groups (no secrets)
    ca.pem                      the site CA certificate: every client's and broker's trust anchor
    signing.key                 the fleet deployment signing key (0600)
    env/<role>.env              client settings of one role, password included (0600)
    broker/ca.key               the CA private key (0600): only to add brokers
    broker/broker-<id>.p12      broker <id>'s PKCS12 keystore (0600); broker-<id>.pem its certificate
    broker/controller-<n>.p12   the same for the n-th separate KRaft controller (``--controller``), if any
    broker/keystore.password    the keystores' password (0600)
    broker/inter-broker.password  SCRAM password of the brokers' own principal (0600)

Env files are ``KEY=value`` lines (systemd ``EnvironmentFile=``, ``set -a; . file``, or pydantic-settings'
``_env_file``) with the variables of :class:`factoryloop.settings.KafkaSettings` and the role's own settings.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from factoryloop.errors import ConfigError
from factoryloop.settings import KafkaSettings
from factoryloop.stack.kafka_config import SCRAM_MECHANISM, BrokerSecurity, ScramUser

ROLES = ("agent", "api", "sink", "trainer", "admin")
INTER_BROKER_USER = "broker"
MANIFEST = "site.json"
CA_CERT = "ca.pem"
SIGNING_KEY = "signing.key"
KEYSTORE_PASSWORD = "broker/keystore.password"
INTER_BROKER_PASSWORD = "broker/inter-broker.password"


def new_secret() -> str:
    """A random password or key: 32 bytes, URL-safe base64 (no quoting needed in env or properties files)."""
    return secrets.token_urlsafe(32)


def write_secret(path: Path, text: str) -> Path:
    """Create ``path`` with mode 0600 from the start (never readable by others, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def parse_env(text: str) -> dict[str, str]:
    """``KEY=value`` lines; blank lines and ``#`` comments skipped (the subset systemd and sh agree on)."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"line {n}: expected KEY=value, got {line!r}")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Broker:
    node_id: int
    host: str
    port: int

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


def parse_broker(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"broker {text!r}: expected HOST:PORT")
    return host, int(port)


@dataclass(frozen=True)
class Site:
    """A site folder, read back."""

    root: Path
    brokers: tuple[Broker, ...]
    topic_prefix: str
    install_dir: Path  # where the folder lives on the site's machines (paths in the env files)
    groups: dict[str, list[str]]  # role -> consumer group prefixes
    controllers: tuple[str, ...] = ()  # hosts of separate KRaft controllers (none: combined nodes)

    @classmethod
    def load(cls, root: Path) -> Site:
        path = root / MANIFEST
        if not path.is_file():
            raise ConfigError(
                f"{root} is not a site folder (no {MANIFEST}); create one with factoryloop site init"
            )
        data = json.loads(path.read_text())
        return cls(
            root=root,
            brokers=tuple(Broker(b["node_id"], b["host"], b["port"]) for b in data["brokers"]),
            topic_prefix=data["topic_prefix"],
            install_dir=Path(data["install_dir"]),
            groups={k: list(v) for k, v in data["groups"].items()},
            controllers=tuple(data.get("controllers", [])),
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers)

    def controller_keystore(self, index: int) -> Path:
        """The keystore of the ``index``-th (1-based) separate controller given to ``site init``."""
        if not 1 <= index <= len(self.controllers):
            raise ConfigError(f"the site has {len(self.controllers)} separate controllers, not {index}")
        return self.root / "broker" / f"controller-{index}.p12"

    def env_file(self, role: str) -> Path:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        return self.root / "env" / f"{role}.env"

    def env(self, role: str) -> dict[str, str]:
        return parse_env(self.env_file(role).read_text())

    def kafka_settings(self, role: str, **overrides: object) -> KafkaSettings:
        """The role's KafkaSettings from its env file, the CA path resolved in this folder (for checks and
        tests on the machine holding the folder)."""
        env = self.env(role)
        values: dict[str, object] = {
            "bootstrap_servers": env["FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS"],
            "topic_prefix": env["FACTORYLOOP_KAFKA_TOPIC_PREFIX"],
            "client_id": env.get("FACTORYLOOP_KAFKA_CLIENT_ID", f"factoryloop-{role}"),
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_username": env["FACTORYLOOP_KAFKA_SASL_USERNAME"],
            "sasl_password": SecretStr(env["FACTORYLOOP_KAFKA_SASL_PASSWORD"]),
            "ssl_cafile": self.root / CA_CERT,
        }
        return KafkaSettings(**{**values, **overrides})  # type: ignore[arg-type]

    def user(self, role: str) -> ScramUser:
        env = self.env(role)
        return ScramUser(env["FACTORYLOOP_KAFKA_SASL_USERNAME"], env["FACTORYLOOP_KAFKA_SASL_PASSWORD"])

    def broker_security(self) -> BrokerSecurity:
        """What :class:`factoryloop.stack.KafkaCluster` needs to run this site's brokers secured."""
        return BrokerSecurity(
            ca_file=self.root / CA_CERT,
            keystores={b.node_id: self.root / "broker" / f"broker-{b.node_id}.p12" for b in self.brokers},
            keystore_password=(self.root / KEYSTORE_PASSWORD).read_text().strip(),
            inter_broker=ScramUser(
                INTER_BROKER_USER, (self.root / INTER_BROKER_PASSWORD).read_text().strip()
            ),
            admin=self.user("admin"),
            users=tuple(self.user(r) for r in ROLES),
        )


def role_env(site: Site, role: str, password: str, signing_key: str) -> str:
    """The env file of ``role``: Kafka over SASL_SSL as the role's principal, plus the role's own settings."""
    return client_env(
        f"factoryloop site: settings of the {role} role (factoryloop site init)",
        role,
        bootstrap=site.bootstrap,
        topic_prefix=site.topic_prefix,
        username=role,
        password=password,
        ca_file=site.install_dir / CA_CERT,
        signing_key=signing_key,
    )


def client_env(
    title: str,
    role: str,
    *,
    bootstrap: str,
    topic_prefix: str,
    username: str,
    password: str,
    ca_file: Path,
    signing_key: str,
) -> str:
    """A client's env file: Kafka over SASL_SSL/SCRAM as ``username``, and for an agent the signing key it
    checks deployments with (signed ones only), for the trainer the one it signs with."""
    lines = [
        f"# {title}. SECRET: mode 0600.",
        f"FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS={bootstrap}",
        f"FACTORYLOOP_KAFKA_TOPIC_PREFIX={topic_prefix}",
        f"FACTORYLOOP_KAFKA_CLIENT_ID=factoryloop-{role}",
        "FACTORYLOOP_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        f"FACTORYLOOP_KAFKA_SASL_MECHANISM={SCRAM_MECHANISM}",
        f"FACTORYLOOP_KAFKA_SASL_USERNAME={username}",
        f"FACTORYLOOP_KAFKA_SASL_PASSWORD={password}",
        f"FACTORYLOOP_KAFKA_SSL_CAFILE={ca_file}",
    ]
    if role == "agent":  # a site's agents take signed deployments only
        lines += [f"FACTORYLOOP_AGENT_SIGNING_KEY={signing_key}", "FACTORYLOOP_AGENT_REQUIRE_SIGNATURE=true"]
    elif role == "trainer":  # the trainer (rollout controller) signs what it publishes
        lines += [f"FACTORYLOOP_TRAIN_SIGNING_KEY={signing_key}"]
    return "\n".join(lines) + "\n"
