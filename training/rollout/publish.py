"""Deployments: a registered model version -> a :class:`Deployment` on the compacted deployments topic."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from pydantic import SecretStr

from factoryloop.kafka import EventProducer
from factoryloop.schemas import FLEET_KEY, Deployment, Strategy
from factoryloop.schemas.deployments import PRODUCT_TAG
from factoryloop.signing import sign
from factoryloop.topics import TopicRole
from training.errors import RolloutError
from training.registry.models import RegisteredVersion
from training.settings import get_settings

logger = logging.getLogger(__name__)


def deployment_for(
    version: RegisteredVersion,
    *,
    target: str = FLEET_KEY,
    strategy: Strategy = Strategy.FULL,
    canary_agents: Sequence[str] = (),
    shadow_sample_rate: float = 0.0,
    ends_shadow: bool = False,
    previous_version: str | None = None,
    reason: str | None = None,
    created_by: str = "trainer",
) -> Deployment:
    if not version.sha256 or not version.class_names or not version.imgsz:
        raise RolloutError(f"{version.name} v{version.version} lacks onnx_sha256/class_names/imgsz tags")
    return Deployment(
        deployment_id=uuid.uuid4().hex,
        target=target,
        model_name=version.name,
        model_version=version.version,
        artifact_uri=version.edge_uri,
        sha256=version.edge_sha256,
        precision=version.precision,
        product=version.tags.get(PRODUCT_TAG) or None,  # the version's product tag; None: registered before
        class_names=version.class_names,
        imgsz=version.imgsz,
        strategy=strategy,
        canary_agents=tuple(canary_agents),
        shadow_sample_rate=shadow_sample_rate,
        ends_shadow=ends_shadow,
        previous_version=previous_version,
        created_by=created_by,
        reason=reason[:1000] if reason else None,
    )


def rollback_to(to: RegisteredVersion, target: str, current: str, why: str, actor: str) -> Deployment:
    """Every agent of ``target`` back to ``to`` (from ``current``); it ends their shadow too."""
    return deployment_for(
        to, target=target, strategy=Strategy.ROLLBACK, previous_version=current, reason=why, created_by=actor
    )


def end_shadow(version: RegisteredVersion, target: str, why: str, actor: str) -> Deployment:
    """Every agent of ``target`` running ``version`` in shadow stops; nothing else changes."""
    return deployment_for(version, target=target, strategy=Strategy.END_SHADOW, reason=why, created_by=actor)


def signed(deployment: Deployment, signing_key: SecretStr | str | None = None) -> Deployment:
    """Signed with ``signing_key``, else with ``FACTORYLOOP_TRAIN_SIGNING_KEY`` when set (else unsigned)."""
    return sign(deployment, signing_key if signing_key is not None else get_settings().signing_key)


def publish(
    producer: EventProducer, deployment: Deployment, signing_key: SecretStr | str | None = None
) -> Deployment:
    """Sign, publish and wait for the acknowledgement (key = target: compaction keeps the latest per target).

    Signed as :func:`signed` does; returns the deployment as published.
    """
    deployment = signed(deployment, signing_key)
    producer.send_sync(TopicRole.DEPLOYMENTS, deployment, key=deployment.compaction_key)
    logged(deployment)
    return deployment


def logged(deployment: Deployment) -> None:
    logger.info(
        "published %s %s v%s to %s (%s%s)",
        deployment.strategy.value,
        deployment.model_name,
        deployment.model_version,
        deployment.target,
        deployment.reason or "",
        ", signed" if deployment.signature else "",
    )
