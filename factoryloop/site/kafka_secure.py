"""A site node's Kafka config secured from the site folder (``factoryloop deploy kafka-config --site DIR``).

The node's keystore is the one ``factoryloop site init`` made for its host: ``broker/broker-N.p12`` for a
broker or combined node (matched by ``--host`` and ``--port`` against ``--broker HOST:PORT``),
``broker/controller-N.p12`` for a separate controller (matched by ``--host`` against ``--controller``). The
paths written into ``server.properties`` are under the site's install dir (``site init --install-dir``:
where the folder, or its ``ca.pem`` and ``broker/`` files, lives on the Kafka hosts); the passwords are read
from the folder now. The SCRAM users (``broker``, ``admin`` and every role) go to a second 0600 file beside
the config, salted (the clear passwords never leave the folder): ``kafka-run`` passes them to
``kafka-storage format --add-scram`` when it formats the storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from factoryloop.errors import ConfigError
from factoryloop.site.kafka_node import NodeRole, SiteNode
from factoryloop.site.security import CA_CERT, Site
from factoryloop.stack.kafka_config import BrokerSecurity, scram_format_args, secure_config

SCRAM_FILE = "scram-credentials"  # beside server.properties: one --add-scram value per line (0600)


@dataclass(frozen=True)
class SecuredNode:
    """A secured node config and the ``--add-scram`` values of its storage format."""

    config: dict[str, str] = field(repr=False)
    scram: tuple[str, ...] = field(repr=False)
    keystore: Path  # as written into the config (under the install dir)


def node_keystore(site: Site, node: SiteNode) -> str:
    """The keystore of ``node`` relative to the site folder; :class:`ConfigError` naming the site's nodes."""
    if node.role is NodeRole.CONTROLLER:
        matches = [i for i, host in enumerate(site.controllers, 1) if host == node.advertised_host]
        if len(matches) != 1:
            raise ConfigError(
                f"--host {node.advertised_host} is {'not one' if not matches else 'more than one'} of the "
                f"site's separate controllers ({', '.join(site.controllers) or 'none'}): "
                "site init --controller HOST makes their keystores"
            )
        return f"broker/controller-{matches[0]}.p12"
    found = [b for b in site.brokers if (b.host, b.port) == (node.advertised_host, node.port)]
    if not found:
        raise ConfigError(
            f"{node.advertised_host}:{node.port} is not one of the site's brokers "
            f"({', '.join(b.bootstrap for b in site.brokers)}): --host and --port as in site init --broker"
        )
    return f"broker/broker-{found[0].node_id}.p12"


def secure_node(config: dict[str, str], site: Site, node: SiteNode) -> SecuredNode:
    """``config`` (from :func:`render_node_config`) with TLS, SASL_SSL/SCRAM-SHA-512 and the authorizer of
    ``site`` (:func:`secure_config`). The result holds the keystore and inter-broker passwords."""
    relative = node_keystore(site, node)
    if not (site.root / relative).is_file():
        raise ConfigError(f"{site.root / relative} is missing: the site folder is incomplete")
    here = site.broker_security()  # the passwords, read from the folder
    there = BrokerSecurity(
        ca_file=site.install_dir / CA_CERT,
        keystores={},
        keystore_password=here.keystore_password,
        inter_broker=here.inter_broker,
        admin=here.admin,
        users=here.users,
    )
    keystore = site.install_dir / relative
    args = scram_format_args(there)
    scram = tuple(value for flag, value in zip(args[::2], args[1::2], strict=True) if flag == "--add-scram")
    return SecuredNode(secure_config(config, there, keystore), scram, keystore)
