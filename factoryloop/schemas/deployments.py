"""Model deployment messages, on a log-compacted topic keyed by target (a line id, or ``fleet``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from factoryloop.schemas.base import Event, Identifier, Sha256Hex

FLEET_KEY = "fleet"

# Model-version tags (MLflow registry) with which training names the file a deployment ships from the
# version's artifact folder: model.onnx (fp32) or model.int8.onnx (training.yolo.quantize).
EDGE_FILE_TAG = "edge_file"
EDGE_SHA256_TAG = "edge_sha256"
EDGE_PRECISION_TAG = "edge_precision"
# The product a version was trained for: a model-version tag, and the same key in the ONNX file's metadata
# (beside Ultralytics' ``names``), which an agent of another product refuses.
PRODUCT_TAG = "product"


class Strategy(StrEnum):
    FULL = "full"  # every targeted agent serves the model
    CANARY = "canary"  # only ``canary_agents`` serve it until the rollout widens or rolls back
    SHADOW = "shadow"  # agents run it beside the champion on a sample of frames, without acting
    ROLLBACK = "rollback"  # back to a previous model, after a failed canary or an engineer's decision
    END_SHADOW = "end_shadow"  # agents running this model in shadow stop; what they serve does not change


class Deployment(Event):
    kind: Literal["deployment"] = "deployment"
    schema_version: Literal[1] = 1
    deployment_id: str = Field(min_length=8, max_length=64)
    target: Identifier = Field(description=f"Compaction key: a line id, or '{FLEET_KEY}'.")
    model_name: str = Field(min_length=1, max_length=128)
    model_version: str = Field(min_length=1, max_length=64)
    artifact_uri: str = Field(
        min_length=1, max_length=2048, description="mlflow-artifacts:/, runs:/, http(s):// or file://"
    )
    sha256: Sha256Hex
    signature: str | None = Field(
        default=None,
        max_length=1024,
        description="Optional HMAC-SHA256 hex of the deployment's identity with the fleet key "
        "(factoryloop.signing); the artifact is bound through the signed sha256.",
    )
    precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="Numerics of the artifact: int8 is the quantised twin training shipped after checking it "
        "against fp32 on held-out images (training.yolo.quantize).",
    )
    product: Identifier | None = Field(
        default=None,
        description="The product whose class map the model was trained on (factoryloop.products); an agent "
        "configured for another product refuses the deployment. None: a deployment made before products.",
    )
    class_names: tuple[str, ...] = Field(min_length=1)
    imgsz: int = Field(gt=0, le=4096)
    strategy: Strategy = Strategy.FULL
    canary_agents: tuple[Identifier, ...] = Field(
        default=(),
        description="canary: the agents that serve it; shadow: the agents that run it beside their model "
        "(empty: every targeted agent).",
    )
    shadow_sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    ends_shadow: bool = Field(
        default=False,
        description="canary / shadow: the agents it targets but does not name end their shadow of this model "
        "(the rollout went past the shadow stage that started it).",
    )
    previous_version: str | None = None
    created_by: str = Field(default="system", max_length=128)
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _check_strategy(self) -> Deployment:
        if self.strategy is Strategy.CANARY and not self.canary_agents:
            raise ValueError("a canary deployment must name its canary_agents")
        if self.strategy is Strategy.SHADOW and self.shadow_sample_rate <= 0:
            raise ValueError("a shadow deployment needs shadow_sample_rate > 0")
        return self

    @property
    def compaction_key(self) -> str:
        """The Kafka key: one record per (product, target) survives compaction, so one product's ``fleet``
        deployment never erases another product's (``target`` alone when the deployment names no product)."""
        return self.target if self.product is None else f"{self.product}/{self.target}"

    def applies_to(self, agent_id: str, line_id: str) -> bool:
        """Whether an agent on ``line_id`` should act on this deployment."""
        if self.target not in (FLEET_KEY, line_id):
            return False
        if self.strategy is Strategy.CANARY or (
            self.strategy in (Strategy.SHADOW, Strategy.END_SHADOW) and self.canary_agents
        ):
            return agent_id in self.canary_agents
        return True

    def ends_shadow_of(self, agent_id: str, line_id: str) -> bool:
        """Whether an agent on ``line_id`` running this model in shadow should stop (and do nothing else): an
        ``end_shadow`` for it, or a canary / shadow with ``ends_shadow`` that targets but does not name it."""
        if self.strategy is Strategy.END_SHADOW:
            return self.applies_to(agent_id, line_id)
        return (
            self.ends_shadow
            and self.target in (FLEET_KEY, line_id)
            and not self.applies_to(agent_id, line_id)
        )
