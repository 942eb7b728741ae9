"""``factoryloop site init``: the folder's files, their modes, the env files, refusing to overwrite."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_agent.settings import AgentSettings
from factoryloop.errors import ConfigError
from factoryloop.settings import KafkaSettings
from factoryloop.site import tls
from factoryloop.site.init import init_site
from factoryloop.site.security import ROLES, Site, parse_broker, parse_env
from factoryloop.site.security_cli import app


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("sites") / "plant"
    brokers = [("10.0.0.11", 9094), ("kafka-2.plant.lan", 9094)]
    return init_site(root, brokers, install_dir=Path("/etc/fl"), controllers=["kafka-c1.plant.lan"])


def test_files_and_modes(site: Site) -> None:
    root = site.root
    assert root.stat().st_mode & 0o777 == 0o700
    public = {"site.json", "README.md", "ca.pem", "broker/broker-1.pem", "broker/broker-2.pem"}
    public |= {"broker/controller-1.pem"}
    secret = {
        "signing.key",
        "broker/ca.key",
        "broker/broker-1.p12",
        "broker/broker-2.p12",
        "broker/controller-1.p12",
        "broker/keystore.password",
        "broker/inter-broker.password",
        *(f"env/{r}.env" for r in ROLES),
    }
    files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert files == public | secret
    for name in secret:
        assert (root / name).stat().st_mode & 0o777 == 0o600, name
    readme = (root / "README.md").read_text()
    for name in ("ca.pem", "signing.key", "env/agent.env", "broker/ca.key", "keystore.password"):
        assert name in readme
    assert json.loads((root / "site.json").read_text())["topic_prefix"] == "factoryloop."


def test_passwords_are_random_and_distinct(site: Site) -> None:
    passwords = [site.env(r)["FACTORYLOOP_KAFKA_SASL_PASSWORD"] for r in ROLES]
    passwords += [(site.root / "broker" / "inter-broker.password").read_text()]
    assert len(set(passwords)) == len(passwords) and all(len(p) >= 40 for p in passwords)


def test_env_files_are_the_clients_settings(site: Site) -> None:
    for role in ROLES:
        kafka = KafkaSettings(_env_file=site.env_file(role))
        assert kafka.bootstrap_servers == "10.0.0.11:9094,kafka-2.plant.lan:9094"
        assert (kafka.security_protocol, kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
        assert kafka.sasl_username == role and kafka.sasl_password is not None
        assert kafka.sasl_password.get_secret_value() not in repr(kafka)
        assert kafka.ssl_cafile == Path("/etc/fl/ca.pem")  # where the folder lives on the machines
    agent = AgentSettings(_env_file=site.env_file("agent"))
    key = (site.root / "signing.key").read_text().strip()
    assert agent.require_signature and agent.signing_key is not None
    assert agent.signing_key.get_secret_value() == key
    assert site.env("trainer")["FACTORYLOOP_TRAIN_SIGNING_KEY"] == key
    for role in ("api", "sink", "admin"):  # only the agent and the trainer hold the signing key
        assert key not in site.env_file(role).read_text()


def test_broker_certificates_name_their_hosts(site: Site) -> None:
    for node, name in (
        ("broker-1", "IP Address:10.0.0.11"),
        ("broker-2", "DNS:kafka-2.plant.lan"),
        ("controller-1", "DNS:kafka-c1.plant.lan"),
    ):
        cert = site.root / "broker" / f"{node}.pem"
        text = subprocess.run(
            ["openssl", "x509", "-in", str(cert), "-noout", "-text"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert name in text and "CN = factoryloop-broker" in text
        verify = ["openssl", "verify", "-CAfile", str(site.root / "ca.pem"), str(cert)]
        assert subprocess.run(verify, capture_output=True, check=False).returncode == 0


def test_broker_security_from_the_folder(site: Site) -> None:
    sec = site.broker_security()
    assert sorted(sec.keystores) == [1, 2] and all(p.is_file() for p in sec.keystores.values())
    assert [u.name for u in sec.all_users] == ["broker", "admin", "agent", "api", "sink", "trainer"]
    assert sec.admin.password not in repr(sec) and sec.keystore_password not in repr(sec)


def test_controller_keystores(site: Site) -> None:
    assert site.controllers == ("kafka-c1.plant.lan",)
    assert site.controller_keystore(1).is_file()
    with pytest.raises(ConfigError, match="not 2"):
        site.controller_keystore(2)


def test_refuses_to_overwrite(site: Site) -> None:
    before = (site.root / "signing.key").read_text()
    with pytest.raises(ConfigError, match="not overwritten"):
        init_site(site.root, [("127.0.0.1", 9092)])
    assert (site.root / "signing.key").read_text() == before


def test_empty_folder_is_used_and_a_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()
    init_site(tmp_path / "empty", [("127.0.0.1", 9092)])
    assert Site.load(tmp_path / "empty").bootstrap == "127.0.0.1:9092"
    monkeypatch.setattr(tls.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="openssl"):
        init_site(tmp_path / "broken", [("127.0.0.1", 9092)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no half-written folder


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["init", str(tmp_path / "s"), "-b", "127.0.0.1:9192", "--topic-prefix", "p1."])
    assert done.exit_code == 0, done.output
    assert Site.load(tmp_path / "s").topic_prefix == "p1."
    again = runner.invoke(app, ["init", str(tmp_path / "s")])
    assert again.exit_code == 1 and "not overwritten" in again.output


@pytest.mark.parametrize("text", ["host", "host:", ":9092", "host:0", "host:99999", "host:x"])
def test_bad_broker_address(text: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_broker(text)


def test_parse_env() -> None:
    assert parse_env("# c\n\nA=1\nB = x=y\n") == {"A": "1", "B": "x=y"}
    with pytest.raises(ConfigError, match="line 1"):
        parse_env("nonsense")


def test_env_files_set_only_names_a_process_reads(site: Site) -> None:
    from factoryloop.site.env_names import check_file

    for role in ROLES:
        assert check_file(site.env_file(role)) == [], role
