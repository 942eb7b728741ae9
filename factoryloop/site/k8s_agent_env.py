"""An edge agent's env file for a Kafka cluster run by Strimzi on Kubernetes.

Line PCs are outside the cluster: they reach Kafka through the ``external`` listener of
``deploy/k8s/kafka.yaml`` (TLS + SCRAM-SHA-512 on 9094) as the ``agent`` KafkaUser. What they need lives in
three Secrets, read with ``kubectl get secret NAME -o json``:

- ``factoryloop-kafka-agent`` (Strimzi's User Operator): ``password``;
- ``factoryloop-cluster-ca-cert`` (Strimzi's Cluster Operator): ``ca.crt``, the CA the listener's
  certificate is signed by;
- ``factoryloop-trainer`` (yours, ``secrets.example.yaml``): ``signing-key``, the key the trainer signs
  deployments with (agents on a site refuse unsigned ones).

:func:`agent_env` turns them into the same env file ``factoryloop site init`` writes for a systemd site's
agents (:func:`factoryloop.site.security.client_env`) plus the CA's PEM; ``factoryloop deploy k8s-agent-env``
writes both (0600).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factoryloop.errors import ConfigError
from factoryloop.site.k8s import USER_PREFIX
from factoryloop.site.security import CA_CERT, client_env

USER_SECRET = f"{USER_PREFIX}agent"  # a KafkaUser's Secret and its SCRAM user name are the user's name
CA_SECRET = "factoryloop-cluster-ca-cert"
TRAINER_SECRET = "factoryloop-trainer"
HOW = "kubectl -n factoryloop get secret {name} -o json > FILE"


@dataclass(frozen=True)
class AgentEnv:
    env: str  # the env file's text (secret: written 0600)
    ca_pem: str


def secret_value(path: Path, expected: str, key: str) -> str:
    """The decoded value of ``key`` in the Secret JSON at ``path`` (``data`` base64, or ``stringData``)."""
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        how = HOW.format(name=expected)
        raise ConfigError(f"{path}: not a Secret as JSON ({exc}); write it with: {how}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "Secret":
        kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(f"{path}: a {kind!r}, not a Secret; write it with: {HOW.format(name=expected)}")
    name = (doc.get("metadata") or {}).get("name", "?")
    data, plain = doc.get("data") or {}, doc.get("stringData") or {}
    if key in plain:
        return str(plain[key])
    if key not in data:
        keys = ", ".join(sorted({*data, *plain})) or "none"
        raise ConfigError(f"{path}: Secret {name!r} has no key {key!r} (keys: {keys}); expected {expected!r}")
    try:
        return base64.b64decode(str(data[key]), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: Secret {name!r}, key {key!r}: not base64 text ({exc})") from exc


def agent_env(
    user_secret: Path,
    ca_secret: Path,
    trainer_secret: Path,
    *,
    bootstrap: str,
    topic_prefix: str = "factoryloop.",
    install_dir: Path = Path("/etc/factoryloop"),
    username: str = USER_SECRET,
) -> AgentEnv:
    """The agent's env file (the CA at ``install_dir/ca.pem``) from the three Secrets' JSON; ``username``:
    the KafkaUser's name when it is not the generated ``factoryloop-kafka-agent``."""
    if not bootstrap or any(":" not in b for b in bootstrap.split(",")):
        raise ConfigError(
            f"bootstrap {bootstrap!r}: give host:port of the external listener, e.g. from "
            "kubectl -n factoryloop get kafka factoryloop "
            "-o jsonpath='{.status.listeners[?(@.name==\"external\")].bootstrapServers}'"
        )
    password = secret_value(user_secret, USER_SECRET, "password")
    ca_pem = secret_value(ca_secret, CA_SECRET, "ca.crt")
    if "BEGIN CERTIFICATE" not in ca_pem:
        raise ConfigError(f"{ca_secret}: ca.crt is not a PEM certificate; expected the Secret {CA_SECRET!r}")
    signing_key = secret_value(trainer_secret, TRAINER_SECRET, "signing-key")
    if signing_key.strip() in ("", "CHANGE-ME"):
        raise ConfigError(f"{trainer_secret}: signing-key is still a placeholder; set the trainer's real key")
    env = client_env(
        "factoryloop agent on a Kubernetes site (factoryloop deploy k8s-agent-env)",
        "agent",
        bootstrap=bootstrap,
        topic_prefix=topic_prefix,
        username=username,
        password=password,
        ca_file=install_dir / CA_CERT,
        signing_key=signing_key.strip(),
    )
    return AgentEnv(env=env, ca_pem=ca_pem)
