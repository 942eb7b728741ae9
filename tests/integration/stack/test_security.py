"""A secured site on a real broker: TLS + SASL_SSL/SCRAM-SHA-512, ACLs per role, signed deployments.

One KRaft node is started from a site folder that ``factoryloop site init`` writes in tmp; ``factoryloop site
acls`` creates the topics and ACLs as the site's admin. Every client below connects with its role's env file.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from factoryloop.errors import KafkaAuthError, KafkaNotAuthorizedError, KafkaUnavailableError
from factoryloop.kafka import EventProducer, TypedConsumer
from factoryloop.kafka.admin import admin_client
from factoryloop.schemas import Deployment, RolloutAction, RolloutRequest
from factoryloop.settings import KafkaSettings
from factoryloop.signing import sign
from factoryloop.site.acls import list_acls
from factoryloop.site.security import ROLES, Site
from factoryloop.site.security_cli import app as site_cli
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.stack.process import free_ports
from factoryloop.stack.settings import StackSettings
from factoryloop.topics import TopicRole
from tests.support import events

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(900)]
T = TopicRole


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path) -> Iterator[Site]:
    """A site folder made by ``factoryloop site init``, its broker running, topics and ACLs in place."""
    root = tmp_path_factory.mktemp("secured") / "site"
    port, cport = free_ports(2)
    runner = CliRunner()
    done = runner.invoke(site_cli, ["init", str(root), "--broker", f"127.0.0.1:{port}"])
    assert done.exit_code == 0, done.output
    loaded = Site.load(root)
    cluster = KafkaCluster.create(
        root.parent / "state",
        kafka_jars,
        [(port, cport)],
        security=loaded.broker_security(),
        jvm=StackSettings().kafka_jvm,
    )
    try:
        cluster.start(timeout_s=180.0)
        config = (root.parent / "state" / "kafka-1" / "server.properties").stat().st_mode & 0o777
        assert config == 0o600  # the keystore and inter-broker passwords are in it
        done = runner.invoke(site_cli, ["acls", str(root), "--replication-factor", "1"])
        assert done.exit_code == 0, done.output
        admin = loaded.kafka_settings("admin")
        deadline = time.monotonic() + 30
        while len(list_acls(admin)) < 30 and time.monotonic() < deadline:  # ACLs apply asynchronously
            time.sleep(0.5)
        yield loaded
    finally:
        cluster.stop()


def read_back(
    settings: KafkaSettings, role: TopicRole, want: Callable[[list[Any]], bool] = lambda got: False
) -> list[Any]:
    """Events on ``role``'s topic from the start (no group): until ``want(events)``, 3 s without a new one
    once some came, or 30 s."""
    got: list[Any] = []
    with TypedConsumer(settings, [role], None) as consumer:
        deadline, last = time.monotonic() + 30, time.monotonic()
        while time.monotonic() < deadline and not want(got):
            batch = [r.event for r in consumer.poll(500)]
            if batch:
                got, last = got + batch, time.monotonic()
            elif got and time.monotonic() - last > 3:
                break
    return got


def consume_as_group(
    settings: KafkaSettings, roles: tuple[TopicRole, ...], group: str, ids: set[str]
) -> set[str]:
    """Join ``group`` on ``roles``' topics, read until every event id in ``ids`` is seen, commit."""
    seen: set[str] = set()
    with TypedConsumer(settings, roles, group) as consumer:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not ids <= seen:
            seen |= {getattr(r.event, "event_id", "") for r in consumer.poll(500)}
        consumer.commit()  # needs READ on the group
    return seen & ids


def test_site_folder_secrets_are_0600(site: Site) -> None:
    secret = [site.root / "signing.key", *(site.env_file(r) for r in ROLES), *site.root.glob("broker/*")]
    for path in secret:
        if path.suffix != ".pem":
            assert path.stat().st_mode & 0o777 == 0o600, path


def test_every_role_does_its_job_over_tls_and_scram(site: Site) -> None:
    agent, api, sink, trainer = (site.kafka_settings(r) for r in ("agent", "api", "sink", "trainer"))
    jpeg = events.jpeg_bytes(2000)
    outcome, beat, label = events.outcome(), events.heartbeat(), events.label()
    dep = sign(
        events.deployment(deployment_id=uuid.uuid4().hex),
        site.env("trainer")["FACTORYLOOP_TRAIN_SIGNING_KEY"],
    )
    request = RolloutRequest(
        request_id=uuid.uuid4().hex, product="steel_plate", action=RolloutAction.DEPLOY, requested_by="alice"
    )
    with EventProducer(agent) as producer:  # the agent: frames, outcomes, heartbeats, dead letters
        producer.send_sync(T.FRAMES, events.frame(jpeg), jpeg=jpeg)
        producer.send_sync(T.OUTCOMES, outcome)
        producer.send_sync(T.HEARTBEATS, beat)
        producer.send_sync(T.DEAD_LETTERS, events.dead_letter())
    with EventProducer(trainer) as producer:  # the trainer: deployments and rollouts
        producer.send_sync(T.DEPLOYMENTS, dep, key=dep.compaction_key)
    with EventProducer(api) as producer:  # the API: labels and rollout requests
        producer.send_sync(T.LABELS, label)
        producer.send_sync(T.ROLLOUTS, request, key=request.product)
    # The agent reads deployments (no consumer group).
    deps = read_back(agent, T.DEPLOYMENTS, lambda got: any(d.deployment_id == dep.deployment_id for d in got))
    assert any(d.deployment_id == dep.deployment_id for d in deps)
    sink_roles = (T.OUTCOMES, T.FRAMES, T.HEARTBEATS, T.DEPLOYMENTS, T.LABELS, T.ROLLOUTS)
    ids = {outcome.event_id, beat.event_id, label.event_id, dep.event_id, request.event_id}
    assert consume_as_group(sink, sink_roles, "factoryloop-api-sink", ids) == ids
    # The API's in-process sink: the same topics, in a group under the sink's name.
    assert consume_as_group(api, sink_roles, "factoryloop-api-sink-embedded", ids) == ids
    ingest = {outcome.event_id, label.event_id}
    assert consume_as_group(trainer, (T.FRAMES, T.OUTCOMES, T.LABELS), "factoryloop-ingest", ingest) == ingest
    rollouts = {request.event_id}
    group = f"{site.topic_prefix}rollout-controller"
    assert consume_as_group(trainer, (T.ROLLOUTS, T.HEARTBEATS), group, rollouts) == rollouts


@pytest.mark.parametrize(
    ("role", "topic"),
    [("api", T.DEPLOYMENTS), ("sink", T.LABELS), ("trainer", T.OUTCOMES), ("agent", T.LABELS)],
)
def test_roles_cannot_write_what_is_not_theirs(site: Site, role: str, topic: TopicRole) -> None:
    event = {T.DEPLOYMENTS: events.deployment(), T.LABELS: events.label(), T.OUTCOMES: events.outcome()}[
        topic
    ]
    with EventProducer(site.kafka_settings(role)) as producer, pytest.raises(KafkaNotAuthorizedError):
        producer.send_sync(topic, event)


def test_agent_writing_a_deployment_is_refused_logged_and_nothing_written(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    agent = site.kafka_settings("agent")
    forged = events.deployment(deployment_id=uuid.uuid4().hex, target="fleet")
    with (
        caplog.at_level(logging.ERROR, logger="factoryloop.kafka.producer"),
        EventProducer(agent) as producer,
        pytest.raises(KafkaNotAuthorizedError, match="user 'agent' is not allowed to write") as refused,
    ):
        producer.send_sync(T.DEPLOYMENTS, forged, key="fleet")
    assert site.topic_prefix + "deployments" in str(refused.value)
    assert any("not allowed to write" in r.getMessage() for r in caplog.records)
    # Read back as the admin: the forged deployment is not on the topic.
    on_topic = read_back(site.kafka_settings("admin"), T.DEPLOYMENTS)
    assert forged.deployment_id not in {d.deployment_id for d in on_topic}


def test_wrong_password_says_what_to_check(site: Site) -> None:
    wrong = site.kafka_settings("agent", sasl_password=SecretStr("not-the-password"))
    with pytest.raises(KafkaAuthError) as refused:
        EventProducer(wrong, bootstrap_timeout_s=5)
    message = str(refused.value)
    assert "refused the credentials of user 'agent' (SCRAM-SHA-512)" in message
    assert "FACTORYLOOP_KAFKA_SASL_PASSWORD" in message and "factoryloop site init" in message
    with pytest.raises(KafkaAuthError, match="FACTORYLOOP_KAFKA_SASL_USERNAME"):
        TypedConsumer(
            site.kafka_settings("sink", sasl_username="nobody"), [T.LABELS], None, bootstrap_timeout_ms=5000
        )


def test_plaintext_client_is_refused(site: Site) -> None:
    plain = KafkaSettings(bootstrap_servers=site.bootstrap, topic_prefix=site.topic_prefix)
    with pytest.raises(KafkaUnavailableError, match="SECURITY_PROTOCOL=SASL_SSL") as refused:
        admin_client(plain, timeout_s=5).close()
    assert not isinstance(refused.value, KafkaAuthError)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_site_agent_refuses_unsigned_and_wrong_sha256_old_model_serves(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent runs with its env file from ``site init`` only (as systemd would load it): signatures are
    required; the trainer's unsigned deployment and a signed one whose sha256 is not the artifact's are
    refused while the old model serves every frame; a correctly signed one is then taken."""
    pytest.importorskip("onnx")
    from edge_agent.agent import Agent
    from edge_agent.settings import AgentSettings
    from tests.integration.edge_agent.support import agent_config, wait_until
    from tests.support.edge_onnx import fail_model, pass_model

    for key, value in site.env("agent").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FACTORYLOOP_AGENT_STATE_DIR", str(tmp_path / "state"))
    settings = AgentSettings()
    assert settings.require_signature and settings.signing_key is not None
    agent_kafka = KafkaSettings()  # the agent's view, from the env file
    assert agent_kafka.security_protocol == "SASL_SSL" and agent_kafka.sasl_username == "agent"
    initial, challenger = pass_model(tmp_path / "pass.onnx"), fail_model(tmp_path / "www" / "model.onnx")
    key = site.env("trainer")["FACTORYLOOP_TRAIN_SIGNING_KEY"]
    total = 200
    cfg = agent_config(
        agent_kafka,
        initial,
        tmp_path,
        source={"fps": 30, "max_frames": total},
        pipeline={"capture_queue": 64},
    )

    def deployment(sha256: str, version: str) -> Deployment:
        return events.deployment(
            deployment_id=uuid.uuid4().hex,
            target="line-it",
            model_version=version,
            artifact_uri=challenger.as_uri(),
            sha256=sha256,
            class_names=("scratch", "dent", "stain", "crack", "missing_hole"),
            imgsz=160,
        )

    agent = Agent(cfg, settings)
    agent.start()
    try:
        with EventProducer(site.kafka_settings("trainer")) as trainer:
            unsigned = deployment(sha256_of(challenger), "2")
            trainer.send_sync(T.DEPLOYMENTS, unsigned, key=unsigned.compaction_key)
            wait_until(lambda: agent.models.rejected == 1, 60, "the unsigned deployment's refusal")
            assert "unsigned deployment refused" in (agent.heartbeat().last_model_error or "")
            wrong_sha = sign(deployment("0" * 64, "3"), key)  # signed, but not these bytes
            trainer.send_sync(T.DEPLOYMENTS, wrong_sha, key=wrong_sha.compaction_key)
            wait_until(lambda: agent.models.rejected == 2, 60, "the wrong sha256's refusal")
            assert "sha256 mismatch" in (agent.heartbeat().last_model_error or "")
            assert agent.models.current.ref.version == "local" and agent.models.swaps == 0
            served_before = agent.stats.get("frames_inspected")
            good = sign(deployment(sha256_of(challenger), "4"), key)
            trainer.send_sync(T.DEPLOYMENTS, good, key=good.compaction_key)
            wait_until(lambda: agent.models.swaps == 1, 60, "the signed deployment")
        assert agent.models.current.ref.version == "4"
        assert agent.wait(90)
    finally:
        agent.close()
    assert served_before > 0
    inspected = agent.stats.get("frames_inspected")
    outcomes = read_back(site.kafka_settings("admin"), T.OUTCOMES)
    mine = {o.event_id: o for o in outcomes if o.agent_id == "agent-it"}
    assert len(mine) == inspected  # every inspected frame's outcome went out over TLS + SCRAM
    versions = [o.model.version for o in sorted(mine.values(), key=lambda o: o.source_frame_index or 0)]
    switch = versions.index("4")
    assert switch >= served_before and set(versions[:switch]) == {"local"} and set(versions[switch:]) == {"4"}


def test_rotated_password_old_one_refused_new_one_works(site: Site) -> None:
    old = site.kafka_settings("sink")
    done = CliRunner().invoke(site_cli, ["rotate", str(site.root), "sink"])
    assert done.exit_code == 0, done.output
    assert site.env_file("sink").stat().st_mode & 0o777 == 0o600
    new = site.kafka_settings("sink")
    assert new.sasl_password != old.sasl_password
    with pytest.raises(KafkaAuthError, match="user 'sink'"):
        TypedConsumer(old, [T.LABELS], None, bootstrap_timeout_ms=5000)
    assert read_back(new, T.LABELS)  # the labels written earlier in this module
