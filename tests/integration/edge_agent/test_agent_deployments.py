"""Deployments on the real broker: shadow challenger, deployments signed by the trainer, MLflow proxy."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from edge_agent.agent import Agent
from edge_agent.models.fetch import fetch
from edge_agent.settings import AgentSettings
from factoryloop.kafka import EventProducer
from factoryloop.schemas import AgentEvent, AgentEventType, Heartbeat, Outcome, Strategy, Verdict
from factoryloop.settings import KafkaSettings
from factoryloop.signing import sign
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, deploy, read_topic, wait_until
from tests.support.edge_onnx import fail_model, pass_model
from tests.support.local_http import local_http
from training.registry.models import RegisteredVersion

pytest.importorskip("onnx")
KEY = "fleet-signing-key"
CLASSES = ["scratch", "dent", "stain", "crack", "missing_hole"]


def outcomes_of(kafka: KafkaSettings, expected: int) -> list[Outcome]:
    """Outcomes deduplicated on event_id (delivery is at-least-once), after the agent flushed them all."""
    got = read_topic(kafka, TopicRole.OUTCOMES, timeout_s=60, idle_s=3)
    unique = {o.event_id: o for o in got if isinstance(o, Outcome)}
    assert len(unique) >= expected, f"{len(unique)} outcomes on the topic, {expected} expected"
    return list(unique.values())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shadow_outcomes_beside_the_champion_never_to_sinks(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    champion, challenger = pass_model(tmp_path / "pass.onnx"), fail_model(tmp_path / "fail.onnx")
    total = 150
    with local_http(tmp_path) as plc:
        cfg = agent_config(
            kafka_settings,
            champion,
            tmp_path,
            source={"fps": 30, "max_frames": total},
            sinks=[
                {
                    "type": "webhook",
                    "name": "plc",
                    "url": f"{plc.url}/reject",
                    "verdicts": ["PASS", "FAIL", "UNCERTAIN"],
                    "queue_size": 1024,
                }
            ],
            pipeline={"capture_queue": 64, "shadow_queue": 256},
        )
        agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
        agent.start()
        try:
            dep = deploy(
                kafka_settings,
                challenger.as_uri(),
                sha256_of(challenger),
                "2-shadow",
                strategy=Strategy.SHADOW,
                shadow_sample_rate=1.0,
            )
            wait_until(lambda: agent.models.shadow is not None, 30, "the shadow model")
            assert agent.heartbeat().shadow_model is not None
            assert agent.wait(60)
        finally:
            agent.close()
        posts = plc.received()
    stats = agent.stats.snapshot()
    inspected, shadowed = stats["frames_inspected"], stats["shadow_inspected"]
    assert inspected + stats.get("frames_dropped", 0) == total and inspected >= total - 5, stats
    assert shadowed >= 30 and "shadow_dropped" not in stats, stats
    outcomes = outcomes_of(kafka_settings, inspected + shadowed)
    champ = [o for o in outcomes if not o.shadow]
    shadow = [o for o in outcomes if o.shadow]
    assert len(champ) == inspected and len(shadow) == shadowed
    assert {(o.model.version, o.verdict) for o in champ} == {("local", Verdict.PASS)}
    assert {(o.model.version, o.verdict) for o in shadow} == {("2-shadow", Verdict.FAIL)}
    assert {o.frame_id for o in shadow} <= {o.frame_id for o in champ}  # the same frames, judged twice
    assert not any(o.frame_sent for o in shadow)
    # The sinks heard the champion only: one PASS per frame, no FAIL although the shadow failed every frame.
    assert len(posts) == inspected and {p["verdict"] for p in posts} == {"PASS"}
    assert {p["outcome_event_id"] for p in posts} == {o.event_id for o in champ}
    assert agent.models.current.ref.version == "local"  # a shadow is never promoted by itself
    events = [e for e in read_topic(kafka_settings, TopicRole.HEARTBEATS) if isinstance(e, AgentEvent)]
    loaded = [e for e in events if e.type is AgentEventType.MODEL_LOADED]
    assert [(e.deployment_id, e.detail) for e in loaded] == [(dep.deployment_id, "shadow")]


def test_deployments_signed_by_training_wrong_key_refused_old_model_serves(
    kafka_settings: KafkaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trainer's deployment_for + publish sign with the fleet key; an agent requiring signatures refuses
    a wrong key, an unsigned deployment and a correctly signed one altered on the way, serving the old model
    on every frame meanwhile, then swaps to the one signed with FACTORYLOOP_TRAIN_SIGNING_KEY."""
    from training.rollout import deployment_for, publish
    from training.settings import get_settings

    initial = pass_model(tmp_path / "pass.onnx")
    www = tmp_path / "www"
    challenger = fail_model(www / "model.onnx")
    total = 240
    settings = AgentSettings(state_dir=tmp_path / "state", signing_key=KEY, require_signature=True)
    cfg = agent_config(
        kafka_settings,
        initial,
        tmp_path,
        source={"fps": 30, "max_frames": total},
        pipeline={"capture_queue": 64},  # loading a model competes for the CPU: absorb it, don't drop
    )
    with local_http(www) as http, EventProducer(kafka_settings) as producer:
        version = RegisteredVersion(
            name="factoryloop-steel_plate",
            version="2",
            run_id="r" * 32,
            source=http.url,  # the artifact folder: onnx_uri = <source>/model.onnx
            tags={"onnx_sha256": sha256_of(challenger), "class_names": json.dumps(CLASSES), "imgsz": "160"},
        )
        agent = Agent(cfg, settings)
        agent.start()
        try:
            forged = publish(producer, deployment_for(version, target="line-it"), SecretStr("another-key"))
            assert forged.signature is not None
            wait_until(lambda: agent.models.rejected == 1, 30, "the wrong key's refusal")
            assert "HMAC signature mismatch" in (agent.heartbeat().last_model_error or "")
            unsigned = publish(producer, deployment_for(version, target="line-it"))  # no key anywhere
            assert unsigned.signature is None
            wait_until(lambda: agent.models.rejected == 2, 30, "the unsigned deployment's refusal")
            assert "unsigned deployment refused" in (agent.heartbeat().last_model_error or "")
            signed = sign(deployment_for(version, target="line-it"), KEY)
            altered = signed.model_copy(update={"imgsz": 320})  # re-published by someone on the topic
            producer.send_sync(TopicRole.DEPLOYMENTS, altered, key=altered.target)  # someone on the topic
            wait_until(lambda: agent.models.rejected == 3, 30, "the altered deployment's refusal")
            assert "HMAC signature mismatch" in (agent.heartbeat().last_model_error or "")
            assert agent.models.current.ref.version == "local" and agent.models.swaps == 0
            served_before = agent.stats.get("frames_inspected")
            monkeypatch.setenv("FACTORYLOOP_TRAIN_SIGNING_KEY", KEY)
            get_settings.cache_clear()
            dep = publish(producer, deployment_for(version, target="line-it"))
            assert dep.signature is not None
            wait_until(lambda: agent.models.swaps == 1, 30, "the signed deployment")
            assert agent.models.current.ref.version == "2" and agent.models.last_error is None
            assert agent.wait(60)
        finally:
            agent.close()
            get_settings.cache_clear()
    inspected, dropped = agent.stats.get("frames_inspected"), agent.stats.get("frames_dropped")
    assert served_before > 0 and inspected + dropped == total and dropped <= 5
    outcomes = sorted(outcomes_of(kafka_settings, inspected), key=lambda o: o.source_frame_index or 0)
    assert len(outcomes) == inspected  # every inspected frame has its outcome, refusals or not
    versions = [o.model.version for o in outcomes]
    switch = versions.index("2")
    assert switch >= served_before
    assert set(versions[:switch]) == {"local"} and set(versions[switch:]) == {"2"}
    assert {o.verdict for o in outcomes[:switch]} == {Verdict.PASS}
    events = [e for e in read_topic(kafka_settings, TopicRole.HEARTBEATS) if isinstance(e, AgentEvent)]
    rejected = [e for e in events if e.type is AgentEventType.MODEL_REJECTED]
    assert [e.deployment_id for e in rejected] == [
        forged.deployment_id,
        unsigned.deployment_id,
        altered.deployment_id,
    ]
    assert any(e.type is AgentEventType.MODEL_LOADED and e.deployment_id == dep.deployment_id for e in events)


def test_deployment_from_mlflow_artifact_proxy(
    kafka_settings: KafkaSettings, mlflow_server: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    challenger = fail_model(tmp_path / "upload" / "challenger.onnx")
    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.create_run(client.create_experiment(f"edge-fetch-{uuid.uuid4().hex[:8]}"))
    run_id = run.info.run_id
    client.log_artifact(run_id, str(challenger), artifact_path="model")
    client.set_terminated(run_id)
    artifact_uri = f"{run.info.artifact_uri.rstrip('/')}/model/challenger.onnx"
    assert artifact_uri.startswith("mlflow-artifacts:/"), artifact_uri
    settings = AgentSettings(state_dir=tmp_path / "state", mlflow_tracking_uri=mlflow_server)
    # Both MLflow URI forms, straight through the fetcher (REST only: the agent never imports mlflow).
    for uri in (artifact_uri, f"runs:/{run_id}/model/challenger.onnx"):
        got = fetch(uri, tmp_path / "dl" / f"{uuid.uuid4().hex}.onnx", settings)
        assert got.read_bytes() == challenger.read_bytes(), uri

    total = 120
    cfg = agent_config(
        kafka_settings, pass_model(tmp_path / "pass.onnx"), tmp_path, source={"fps": 30, "max_frames": total}
    )
    agent = Agent(cfg, settings)
    agent.start()
    try:
        deploy(kafka_settings, artifact_uri, sha256_of(challenger), "7")
        wait_until(lambda: agent.models.swaps == 1, 30, "the MLflow deployment")
        assert agent.wait(60)
    finally:
        agent.close()
    assert agent.models.rejected == 0
    stored = tmp_path / "state" / "models" / "current.onnx"
    assert stored.read_bytes() == challenger.read_bytes()  # persisted for an offline restart
    outcomes = sorted(outcomes_of(kafka_settings, total), key=lambda o: o.source_frame_index or 0)
    assert len(outcomes) == total and outcomes[-1].model.version == "7"
    final = [b for b in read_topic(kafka_settings, TopicRole.HEARTBEATS) if isinstance(b, Heartbeat)][-1]
    assert final.model is not None and final.model.version == "7" and final.last_model_error is None
