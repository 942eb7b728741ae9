"""Rollout requests: the API asks, the rollout controller acts.

The rollout controller (the trainer, ``factoryloop train watch``) is the one owner of each product's
``champion`` / ``canary`` aliases and of the deployments. The API never publishes a Deployment: ``POST
/rollouts`` (and its two older wrappers ``POST /deployments`` and ``POST /deployments/rollback``) publishes a
:class:`~factoryloop.schemas.RolloutRequest` on the ``rollouts`` topic keyed by product, stores it (state
``requested``) and answers 202. What the controller then does arrives on the same topic as RolloutEvents,
which the sink stores beside the request. Without a running trainer a request stays ``requested``.

A shadow (``POST /rollouts`` with ``shadow``, or ``POST /deployments`` with ``strategy: shadow``) is a rollout
request too: the controller runs the challenger beside the champion on the named agents first, judges it frame
by frame, then goes on through the canary stages (or rolls it back): the API never starts a shadow itself.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.context import AppContext
from api.db.models import RolloutRow
from api.db.upsert import insert_ignore, table
from api.errors import BadRequestError
from api.metrics import ROLLOUT_REQUESTS
from api.sink.rows import rollout_row
from factoryloop.schemas import FLEET_KEY, RolloutAction, RolloutRequest, RolloutState, Strategy
from factoryloop.schemas.deployments import PRODUCT_TAG
from factoryloop.schemas.rollouts import ShadowAsk
from factoryloop.topics import TopicRole

logger = logging.getLogger(__name__)

IDENTIFIER = r"^[A-Za-z0-9_.:\-]{1,128}$"  # factoryloop.schemas.base.Identifier
VERSION = r"^[A-Za-z0-9_.\-]{1,64}$"
CONTROLLER = "the rollout controller (factoryloop train watch)"

# Fields the old immediate-publish POST /deployments took; the controller decides them now (400 if given).
# With strategy shadow, canary_agents and shadow_sample_rate say where and how much to shadow (SHADOW_FIELDS).
SHADOW_FIELDS = frozenset({"canary_agents", "shadow_sample_rate"})
RETIRED: dict[str, str] = {
    "canary_agents": "the product's rollout policy chooses the canary agents",
    "shadow_sample_rate": "only a shadow (strategy 'shadow') has a sample rate",
    "artifact_uri": "the controller ships the version's own edge file",
    "sha256": "the controller reads it from the version's tags",
    "class_names": "the controller reads them from the version's tags",
    "imgsz": "the controller reads it from the version's tags",
    "product": "the product is the version's 'product' tag",
}


class ShadowIn(BaseModel):
    """A shadow stage first: the challenger beside the champion, never acting, judged frame by frame."""

    model_config = ConfigDict(extra="forbid")
    agents: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Live agents of the product (empty: the policy's shadow stages, else its first agent).",
    )
    sample_rate: float = Field(default=1.0, gt=0.0, le=1.0, description="Share of their frames shadowed.")

    @model_validator(mode="after")
    def _agent_ids(self) -> ShadowIn:
        bad = [a for a in self.agents if not re.fullmatch(IDENTIFIER, a)]
        if bad:
            raise ValueError(f"invalid agent ids {bad[:5]}")
        return self


class RolloutIn(BaseModel):
    """``POST /rollouts``: what to ask of the rollout controller for one product."""

    model_config = ConfigDict(extra="forbid")
    product: str = Field(pattern=IDENTIFIER, description="The product whose fleet changes.")
    action: RolloutAction
    model_version: str | None = Field(
        default=None, pattern=VERSION, description="deploy: the version (default: the champion)."
    )
    to_version: str | None = Field(
        default=None, pattern=VERSION, description="rollback: the version to go back to (default: previous)."
    )
    staged: bool = Field(
        default=True, description="deploy: through the product's canary stages, or straight to every agent."
    )
    target: str = Field(default=FLEET_KEY, pattern=IDENTIFIER, description=f"A line id, or '{FLEET_KEY}'.")
    shadow: ShadowIn | None = Field(
        default=None,
        description="deploy: in shadow first (then the canary stages, or every agent when not staged).",
    )
    reason: str | None = Field(default=None, max_length=1000)


class PromoteIn(BaseModel):
    """``POST /deployments``: deploy a registered version (its product from the version's tag)."""

    model_config = ConfigDict(extra="allow")  # the retired fields are refused with a 400 saying why
    model_name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    model_version: str = Field(pattern=VERSION)
    target: str = Field(default=FLEET_KEY, pattern=IDENTIFIER, description="A line id, or 'fleet'.")
    strategy: Strategy = Field(
        default=Strategy.FULL,
        description="full: straight to every agent; canary: the policy's stages; shadow: a shadow stage on "
        "canary_agents (default: the policy's) at shadow_sample_rate (default 1.0), then the stages.",
    )
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _known_fields(self) -> PromoteIn:
        unknown = sorted(set(self.model_extra or {}) - set(RETIRED))
        if unknown:
            raise ValueError(f"unknown fields {unknown}")
        return self


class RollbackIn(BaseModel):
    """``POST /deployments/rollback``: stop any canary of ``product`` and go back."""

    model_config = ConfigDict(extra="forbid")
    product: str = Field(pattern=IDENTIFIER)
    to_version: str | None = Field(
        default=None, pattern=VERSION, description="Default: the previous champion."
    )
    target: str = Field(default=FLEET_KEY, pattern=IDENTIFIER)
    reason: str | None = Field(default=None, max_length=1000)


class RequestOut(BaseModel):
    """The 202 answer: the request as published; ``status`` stays ``requested`` until the controller acts."""

    request_id: str
    event_id: str
    ts: datetime
    product: str
    action: RolloutAction
    model_version: str | None
    to_version: str | None
    staged: bool
    target: str
    shadow: ShadowIn | None = None
    requested_by: str
    reason: str | None
    status: str = Field(
        default=RolloutState.REQUESTED.value, description="Follow it at GET /rollouts/requests/{request_id}."
    )


def check(body: RolloutIn) -> None:
    """400 for a request the controller could only refuse: a field of the other action."""
    if body.action is RolloutAction.DEPLOY and body.to_version is not None:
        raise BadRequestError(
            "to_version is for action 'rollback'; a deploy takes model_version (the version to roll out)"
        )
    if body.action is RolloutAction.ROLLBACK and body.model_version is not None:
        raise BadRequestError(
            "model_version is for action 'deploy'; a rollback takes to_version "
            "(default: the previous champion)"
        )
    if body.action is RolloutAction.ROLLBACK and body.shadow is not None:
        raise BadRequestError("shadow is for action 'deploy' (a shadow stage before the canaries)")


def from_promotion(body: PromoteIn, tags: dict[str, str]) -> RolloutIn:
    """The rollout request of ``POST /deployments``, given the MLflow tags of the version; 400 says what to
    do when the body holds a retired field, the strategy is not full/canary/shadow, or the version has no
    product. ``shadow``: a shadow stage on ``canary_agents`` at ``shadow_sample_rate``, then the stages."""
    extra = dict(body.model_extra or {})
    shadow = body.strategy is Strategy.SHADOW
    retired = sorted(set(extra) & set(RETIRED) - (SHADOW_FIELDS if shadow else set()))
    if retired:
        why = "; ".join(f"{k}: {RETIRED[k]}" for k in retired)
        raise BadRequestError(f"{CONTROLLER} chooses {', '.join(retired)} now, leave them out ({why})")
    if body.strategy not in (Strategy.FULL, Strategy.CANARY, Strategy.SHADOW):
        hint = "POST /deployments/rollback" if body.strategy is Strategy.ROLLBACK else "full/canary/shadow"
        raise BadRequestError(f"strategy {body.strategy.value!r} cannot be requested here: use {hint}")
    product = tags.get(PRODUCT_TAG, "").strip()
    where = f"model {body.model_name} v{body.model_version}"
    if not product:
        raise BadRequestError(
            f"{where} has no '{PRODUCT_TAG}' tag, so {CONTROLLER} cannot tell which product's agents it is "
            "for: tag the version (MLflow: "
            f"set_model_version_tag(name, version, '{PRODUCT_TAG}', '<product>')) or use POST /rollouts"
        )
    try:
        asked = ShadowIn(
            agents=extra.get("canary_agents") or [], sample_rate=extra.get("shadow_sample_rate") or 1.0
        )
    except ValueError as exc:
        raise BadRequestError(f"invalid shadow: {exc}") from exc
    try:
        return RolloutIn(
            product=product,
            action=RolloutAction.DEPLOY,
            model_version=body.model_version,
            staged=body.strategy in (Strategy.CANARY, Strategy.SHADOW),
            target=body.target,
            shadow=asked if shadow else None,
            reason=body.reason,
        )
    except ValueError as exc:
        raise BadRequestError(f"{where} has an invalid '{PRODUCT_TAG}' tag {product!r}: {exc}") from exc


def from_rollback(body: RollbackIn) -> RolloutIn:
    return RolloutIn(
        product=body.product,
        action=RolloutAction.ROLLBACK,
        to_version=body.to_version,
        target=body.target,
        reason=body.reason,
    )


def new_request(body: RolloutIn, requested_by: str) -> RolloutRequest:
    check(body)
    return RolloutRequest(
        request_id=uuid.uuid4().hex,
        product=body.product,
        action=body.action,
        model_version=body.model_version,
        to_version=body.to_version,
        staged=body.staged,
        target=body.target,
        shadow=(
            ShadowAsk(agents=tuple(body.shadow.agents), sample_rate=body.shadow.sample_rate)
            if body.shadow is not None
            else None
        ),
        requested_by=requested_by,
        reason=body.reason,
    )


def request_out(req: RolloutRequest | dict[str, Any]) -> RequestOut:
    data = req.model_dump(mode="json") if isinstance(req, RolloutRequest) else req
    return RequestOut(**{k: data[k] for k in RequestOut.model_fields if k in data})


def request_rollout(ctx: AppContext, body: RolloutIn, requested_by: str) -> RequestOut:
    """Validate, publish the request keyed by product (acknowledged by Kafka, else 503) and store it (the
    sink stores it again from the topic: ignored on ``event_id``)."""
    req = new_request(body, requested_by)
    ctx.publish(TopicRole.ROLLOUTS, req, key=req.product)
    ROLLOUT_REQUESTS.labels(req.action.value).inc()
    with ctx.db.engine.begin() as conn:
        insert_ignore(conn, table(RolloutRow), [rollout_row(req)])
    logger.info(
        "rollout request %s: %s %s v%s by %s",
        req.request_id,
        req.action.value,
        req.product,
        req.model_version or req.to_version or "-",
        requested_by,
    )
    return request_out(req)
