"""``factoryloop deploy kafka-config --site``: a node's secured config from the site folder (its keystore by
host, paths under the install dir, 0600 files) and the salted SCRAM users ``kafka-run`` formats with; the
``combined`` role."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryloop.cli.deploy import app
from factoryloop.site.init import init_site
from factoryloop.site.kafka_node import NodeRole, SiteNode, parse_properties, parse_quorum, render_node_config
from factoryloop.site.kafka_run import scram_args
from factoryloop.site.kafka_secure import SCRAM_FILE
from factoryloop.site.security import ROLES, Site

INSTALL = Path("/etc/factoryloop/site")
QUORUM = "1@kafka-c1.plant.lan:9093,2@kafka-2.plant.lan:9093,3@kafka-3.plant.lan:9093"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("sites") / "plant"
    brokers = [("kafka-1.plant.lan", 9094), ("kafka-2.plant.lan", 9094), ("kafka-2.plant.lan", 9095)]
    return init_site(root, brokers, install_dir=INSTALL, controllers=["kafka-c1.plant.lan"])


def kafka_config(out: Path, site: Site | None, *args: str) -> tuple[int, str]:
    cli = ["kafka-config", "--quorum", QUORUM, "--out", str(out), "--data-dir", "/var/lib/k/data"]
    cli += ["--site", str(site.root)] if site is not None else []
    result = CliRunner().invoke(app, [*cli, *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "keystore", "listeners"),
    [
        (
            ["--role", "broker", "--node-id", "102", "--host", "kafka-2.plant.lan", "--port", "9095"],
            "broker/broker-3.p12",
            "SASL_SSL://0.0.0.0:9095",
        ),
        (
            ["--role", "controller", "--node-id", "1", "--host", "kafka-c1.plant.lan"],
            "broker/controller-1.p12",
            "CONTROLLER://0.0.0.0:9093",
        ),
        (
            ["--role", "combined", "--node-id", "2", "--host", "kafka-2.plant.lan", "--port", "9094"],
            "broker/broker-2.p12",
            "SASL_SSL://0.0.0.0:9094,CONTROLLER://0.0.0.0:9093",
        ),
    ],
)
def test_secured_node_config_from_the_site_folder(
    site: Site, tmp_path: Path, args: list[str], keystore: str, listeners: str
) -> None:
    out = tmp_path / "node" / "server.properties"
    code, output = kafka_config(out, site, *args)
    assert code == 0, output
    props = parse_properties(out.read_text())
    assert props["listeners"] == listeners
    assert props["ssl.keystore.location"] == str(INSTALL / keystore)  # where it lives on the Kafka host
    assert props["ssl.truststore.location"] == str(INSTALL / "ca.pem")
    assert props["ssl.keystore.password"] == (site.root / "broker" / "keystore.password").read_text().strip()
    assert props["super.users"] == "User:factoryloop-broker;User:broker;User:admin"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    for name in ("server.properties", SCRAM_FILE):
        assert (out.parent / name).stat().st_mode & 0o777 == 0o600, name


def test_scram_users_are_salted_and_given_to_the_format(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "node" / "server.properties"
    code, output = kafka_config(
        out, site, "--role", "combined", "--node-id", "1", "--host", "kafka-1.plant.lan", "--port", "9094"
    )
    assert code == 0, output
    args = scram_args(out)
    values = args[1::2]
    assert args[::2] == ["--add-scram"] * len(values)
    names = [v.split("name=", 1)[1].split(",", 1)[0] for v in values]
    assert sorted(names) == sorted({"broker", *ROLES})
    text = (out.parent / SCRAM_FILE).read_text()
    agent = site.user("agent")
    assert agent.password not in text  # only the salted password leaves the folder
    value = values[names.index("agent")]
    salt = base64.b64decode(value.split('salt="', 1)[1].split('"', 1)[0])
    salted = hashlib.pbkdf2_hmac("sha512", agent.password.encode(), salt, 8192)
    assert f'saltedpassword="{base64.b64encode(salted).decode()}"' in value


def test_a_plaintext_node_formats_without_users(tmp_path: Path) -> None:
    out = tmp_path / "node" / "server.properties"
    code, output = kafka_config(out, None, "--role", "broker", "--node-id", "101", "--host", "kafka-1")
    assert code == 0, output
    assert scram_args(out) == [] and not (out.parent / SCRAM_FILE).exists()
    assert parse_properties(out.read_text())["listeners"] == "PLAINTEXT://0.0.0.0:9092"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--role", "broker", "--node-id", "101", "--host", "kafka-9", "--port", "9094"],
            "not one of the site's",
        ),
        (
            ["--role", "broker", "--node-id", "101", "--host", "kafka-1.plant.lan"],
            "kafka-1.plant.lan:9092 is not",
        ),
        (["--role", "controller", "--node-id", "2", "--host", "kafka-2.plant.lan"], "separate controllers"),
    ],
)
def test_a_node_the_site_does_not_know_is_refused(
    site: Site, tmp_path: Path, args: list[str], error: str
) -> None:
    out = tmp_path / "node" / "server.properties"
    code, output = kafka_config(out, site, *args)
    assert code == 1 and error in output and not out.exists()


def test_force_keeps_a_secured_config_private(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "node" / "server.properties"
    out.parent.mkdir()
    out.write_text("old\n")
    out.chmod(0o644)
    args = [
        "--role",
        "combined",
        "--node-id",
        "1",
        "--host",
        "kafka-1.plant.lan",
        "--port",
        "9094",
        "--force",
    ]
    code, output = kafka_config(out, site, *args)
    assert code == 0, output
    assert out.stat().st_mode & 0o777 == 0o600 and "SASL_SSL" in out.read_text()


def test_combined_role_needs_its_own_controller_port() -> None:
    node = SiteNode(NodeRole.COMBINED, 1, "kafka-1", 9092, Path("/d"), controller_port=9092)
    with pytest.raises(ValueError, match="own controller port"):
        render_node_config(node, parse_quorum("1@kafka-1:9092"))
    ok = SiteNode(NodeRole.COMBINED, 1, "kafka-1", 9092, Path("/d"), controller_port=9093)
    config = render_node_config(ok, parse_quorum("1@kafka-1:9093"), replication_factor=1)
    assert config["process.roles"] == "broker,controller"
    assert config["advertised.listeners"] == "PLAINTEXT://kafka-1:9092"
