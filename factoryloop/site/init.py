"""``factoryloop site init DIR``: write a new site folder (layout in :mod:`factoryloop.site.security`).

Refuses to touch an existing non-empty folder: a second run would replace passwords and keys that running
brokers and clients use. The folder is built beside ``DIR`` and renamed into place at the end, so a failed
run leaves nothing half-written.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from factoryloop.errors import ConfigError
from factoryloop.site.acls import TOPIC_GRANTS, default_groups, role_grants
from factoryloop.site.security import (
    CA_CERT,
    INTER_BROKER_PASSWORD,
    KEYSTORE_PASSWORD,
    MANIFEST,
    ROLES,
    SIGNING_KEY,
    Broker,
    Site,
    new_secret,
    role_env,
    write_secret,
)
from factoryloop.site.tls import create_broker_keystore, create_ca

logger = logging.getLogger(__name__)


def _readme(site: Site) -> str:
    roles = "\n".join(
        f"- `{role}`: "
        + (
            "; ".join(str(g) for g in role_grants(role, site.topic_prefix, site.groups[role]))
            or "super user (topics, ACLs, everything)"
        )
        for role in TOPIC_GRANTS
    )
    brokers = "\n".join(
        f"- node {b.node_id}: `{b.bootstrap}` -> `broker/broker-{b.node_id}.p12`" for b in site.brokers
    )
    return f"""# factoryloop site folder

Written by `factoryloop site init`. Files marked SECRET are mode 0600: copy each only to the machines that
need it (docs/security.md). `factoryloop site init` never overwrites this folder.

- `site.json`: brokers, topic prefix `{site.topic_prefix}`, principals, consumer groups (admin).
- `ca.pem`: the site CA certificate, trusted by every client and broker (every machine).
- `signing.key` SECRET: the fleet deployment signing key (HMAC-SHA256), also in the agent's and the
  trainer's env files.
- `env/agent.env` SECRET: edge agents (line PCs): Kafka as `agent`, the signing key, signatures required.
- `env/api.env` SECRET: the API and its in-process sink (central host): Kafka as `api`.
- `env/sink.env` SECRET: sink processes (central host): Kafka as `sink`.
- `env/trainer.env` SECRET: the trainer and rollout controller: Kafka as `trainer`, the signing key.
- `env/admin.env` SECRET: `factoryloop topics init`, `factoryloop site acls`: Kafka as `admin`, a super
  user (the administrator only).
- `broker/ca.key` SECRET: the CA's private key, only to issue broker certificates (keep it offline).
- `broker/broker-N.p12` SECRET, `broker/broker-N.pem`: broker N's PKCS12 keystore (key + chain) and its
  certificate (broker N).
- `broker/controller-N.p12` SECRET, `.pem`: the same for the N-th separate KRaft controller, if any.
- `broker/keystore.password` SECRET: the keystores' password (brokers).
- `broker/inter-broker.password` SECRET: SCRAM password of the brokers' own principal `broker` (brokers).

Env files are `KEY=value` lines: systemd `EnvironmentFile=`, or `set -a; . env/agent.env; set +a`.
`FACTORYLOOP_KAFKA_SSL_CAFILE` in them points at `{site.install_dir / CA_CERT}`.

Brokers (TLS + SASL_SSL/SCRAM-SHA-512, StandardAuthorizer, nothing allowed without an ACL):
{brokers}

What each role may do (topics and consumer groups, PREFIXED patterns), applied by `factoryloop site acls DIR`:
{roles}
"""


def init_site(
    root: Path,
    brokers: list[tuple[str, int]],
    topic_prefix: str = "factoryloop.",
    install_dir: Path | None = None,
    name: str = "factoryloop site",
    controllers: list[str] | None = None,
) -> Site:
    """Create the site folder ``root``; :class:`ConfigError` if it exists and is not empty."""
    if not brokers:
        raise ConfigError("a site needs at least one broker (HOST:PORT)")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"{root} exists and is not empty: not overwritten (its keys may be in use)")
    root.parent.mkdir(parents=True, exist_ok=True)
    site = Site(
        root=root,
        brokers=tuple(Broker(i + 1, host, port) for i, (host, port) in enumerate(brokers)),
        topic_prefix=topic_prefix,
        install_dir=(install_dir or root).expanduser().resolve(),
        groups=default_groups(topic_prefix),
        controllers=tuple(controllers or ()),
    )
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        _write(site, tmp, name)
        if root.exists():
            root.rmdir()  # empty (checked above)
        tmp.rename(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    root.chmod(0o700)
    logger.info("site folder %s written (%d brokers, roles %s)", root, len(brokers), ", ".join(ROLES))
    return site


def _write(site: Site, out: Path, name: str) -> None:
    (out / "broker").mkdir(mode=0o700)
    (out / "env").mkdir(mode=0o700)
    create_ca(out / CA_CERT, out / "broker" / "ca.key", name)
    (out / CA_CERT).chmod(0o644)
    password_file = write_secret(out / KEYSTORE_PASSWORD, new_secret())
    for b in site.brokers:
        create_broker_keystore(
            b.host,
            out / CA_CERT,
            out / "broker" / "ca.key",
            out / "broker" / f"broker-{b.node_id}.p12",
            out / "broker" / f"broker-{b.node_id}.pem",
            password_file,
        )
    for i, host in enumerate(site.controllers, 1):  # separate controllers: mTLS on the controller listener
        create_broker_keystore(
            host,
            out / CA_CERT,
            out / "broker" / "ca.key",
            out / "broker" / f"controller-{i}.p12",
            out / "broker" / f"controller-{i}.pem",
            password_file,
        )
    write_secret(out / INTER_BROKER_PASSWORD, new_secret())
    signing_key = new_secret()
    write_secret(out / SIGNING_KEY, signing_key + "\n")
    for role in ROLES:
        write_secret(out / "env" / f"{role}.env", role_env(site, role, new_secret(), signing_key))
    manifest = {
        "version": 1,
        "brokers": [{"node_id": b.node_id, "host": b.host, "port": b.port} for b in site.brokers],
        "controllers": list(site.controllers),
        "topic_prefix": site.topic_prefix,
        "install_dir": str(site.install_dir),
        "principals": {role: role for role in ROLES} | {"inter-broker": "broker"},
        "groups": site.groups,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.md").write_text(_readme(site))
