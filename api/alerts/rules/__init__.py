"""Alert rule types: one module per type, their configs in a discriminated union on ``type`` and an
explicit registry from type to implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from api.alerts.errors import UnknownRuleError
from api.alerts.rules.agent_offline import AgentOfflineConfig, AgentOfflineRule
from api.alerts.rules.base import Rule, RuleConfigBase, Severity
from api.alerts.rules.buffer_full import BufferFullConfig, BufferFullRule
from api.alerts.rules.camera import CameraConfig, CameraRule
from api.alerts.rules.defect_rate import DefectRateConfig, DefectRateRule
from api.alerts.rules.late_rejects import LateRejectsConfig, LateRejectsRule
from api.alerts.rules.rollout_rolled_back import RolloutRolledBackConfig, RolloutRolledBackRule

__all__ = ["RULES", "Rule", "RuleConfig", "RuleConfigBase", "Severity", "build_rule"]

RuleConfig = Annotated[
    AgentOfflineConfig
    | CameraConfig
    | DefectRateConfig
    | RolloutRolledBackConfig
    | BufferFullConfig
    | LateRejectsConfig,
    Field(discriminator="type"),
]

RULES: dict[str, Callable[[Any], Rule]] = {
    "agent_offline": AgentOfflineRule,
    "camera": CameraRule,
    "defect_rate": DefectRateRule,
    "rollout_rolled_back": RolloutRolledBackRule,
    "buffer_full": BufferFullRule,
    "late_rejects": LateRejectsRule,
}


def build_rule(config: RuleConfigBase) -> Rule:
    kind = getattr(config, "type", None)
    factory = RULES.get(str(kind))
    if factory is None:
        raise UnknownRuleError(f"unknown alert rule type {kind!r}; known: {', '.join(sorted(RULES))}")
    return factory(config)
