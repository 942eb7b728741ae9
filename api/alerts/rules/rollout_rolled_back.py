"""``rollout_rolled_back``: the rollout controller rolled a product's rollout back (a canary failed, or an
engineer asked) within the last ``within_s`` seconds. One subject per product; it resolves once the
rollback is older than ``within_s``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from api.alerts.rules.base import Facts, Finding, Rule, RuleConfigBase


class RolloutRolledBackConfig(RuleConfigBase):
    type: Literal["rollout_rolled_back"] = "rollout_rolled_back"
    within_s: float = Field(default=3600.0, gt=0, description="How long after a rollback it stays an alert.")


class RolloutRolledBackRule(Rule):
    config: RolloutRolledBackConfig

    def __init__(self, config: RolloutRolledBackConfig) -> None:
        self.config = config

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        latest: dict[str, Finding] = {}
        for rb in sorted(facts.rollbacks(now - timedelta(seconds=self.config.within_s)), key=lambda r: r.ts):
            if self.config.scope.product not in (None, rb.product):  # a rollout has no line or station
                continue
            version = f"v{rb.model_version}" if rb.model_version else "the new model"
            back = f" back to v{rb.previous_version}" if rb.previous_version else ""
            latest[rb.product] = Finding(
                subject=f"product:{rb.product}",
                message=f"rollout of {rb.product} {version} rolled back{back} by {rb.actor}: "
                f"{rb.reason or 'no reason given'}",
                evidence={
                    "rollout_id": rb.rollout_id,
                    "ts": rb.ts.isoformat(),
                    "model_version": rb.model_version,
                    "previous_version": rb.previous_version,
                    "reason": rb.reason,
                    "actor": rb.actor,
                    **{f"evidence.{k}": v for k, v in rb.evidence.items()},
                },
                product=rb.product,
            )
        return list(latest.values())
