"""A rollout ended and recorded in MLflow whose last deployment never went out (the trainer was killed while
Kafka did not acknowledge it): alias ``canary`` stays until it is acknowledged, so the next leader reads it
back as ended and sends that deployment again (full, rollback, or the end of a shadow), then removes the
alias: no split fleet is left without an owner. Real Kafka and MLflow; no agents are needed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from factoryloop.schemas import Deployment, RolloutState, Strategy
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import read_topic, wait_until
from tests.support.rollout_site import PRODUCT, register_models, running_controller
from training.registry.models import CANARY, CHAMPION
from training.rollout.ledger import Rollout, RolloutLedger
from training.rollout.policy import RolloutPolicies

pytest.importorskip("onnx")


@pytest.mark.parametrize(
    ("state", "back_to", "shadow", "strategy", "version"),
    [
        (RolloutState.FULL, None, False, Strategy.FULL, "3"),
        (RolloutState.ROLLED_BACK, "1", False, Strategy.ROLLBACK, "1"),
        (RolloutState.ROLLED_BACK, None, True, Strategy.END_SHADOW, "3"),  # a shadow, nothing to go back to
    ],
)
def test_an_ended_rollout_whose_deployment_never_went_out_is_sent_again(
    kafka_settings: KafkaSettings,
    mlflow_server: str,
    tmp_path: Path,
    state: RolloutState,
    back_to: str | None,
    shadow: bool,
    strategy: Strategy,
    version: str,
) -> None:
    registry, _ = register_models(mlflow_server, tmp_path / "models")
    ledger = RolloutLedger(registry)
    r = Rollout(
        rollout_id=uuid.uuid4().hex,
        product=PRODUCT,
        version=registry.get(PRODUCT, "3"),
        previous=registry.get(PRODUCT, "1"),
        stages=(("agent-a",), ()),
        shadow_rates=(1.0,) if shadow else (),
    )
    ledger.save(r, RolloutState.SHADOW if shadow else RolloutState.CANARY)
    ledger.finish(r, state, "what the killed trainer decided", {}, back_to=back_to, release=False)
    assert registry.alias(PRODUCT, CANARY).version == "3"  # type: ignore[union-attr]

    with running_controller(kafka_settings, registry, RolloutPolicies(), agents=0):
        wait_until(lambda: registry.alias(PRODUCT, CANARY) is None, 60, "alias canary removed")
    sent = [
        d
        for d in read_topic(kafka_settings, TopicRole.DEPLOYMENTS, timeout_s=30)
        if isinstance(d, Deployment)
    ]
    assert [(d.strategy, d.model_version) for d in sent] == [(strategy, version)], sent
    assert "sent again after a trainer restart" in (sent[0].reason or "")
    assert registry.get(PRODUCT, "3").tags["rollout.decision"] == state.value
    assert registry.alias(PRODUCT, CHAMPION).version == ("3" if state is RolloutState.FULL else "1")  # type: ignore[union-attr]
