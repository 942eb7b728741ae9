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
        previous_version=previous_version,
        created_by=created_by,
        reason=reason[:1000] if reason else None,
    )


def publish(
    producer: EventProducer, deployment: Deployment, signing_key: SecretStr | str | None = None
) -> Deployment:
    """Sign, publish and wait for the acknowledgement (key = target: compaction keeps the latest per target).

    Signed with ``signing_key``, else with ``FACTORYLOOP_TRAIN_SIGNING_KEY`` when set (unsigned otherwise);
    returns the deployment as published.
    """
    deployment = sign(deployment, signing_key if signing_key is not None else get_settings().signing_key)
    producer.send_sync(TopicRole.DEPLOYMENTS, deployment, key=deployment.compaction_key)
    logger.info(
        "published %s %s v%s to %s (%s%s)",
        deployment.strategy.value,
        deployment.model_name,
        deployment.model_version,
        deployment.target,
        deployment.reason or "",
        ", signed" if deployment.signature else "",
    )
    return deployment
