"""Rollout: deployments on the compacted topic, canary first, then the fleet or an automatic rollback."""

from training.rollout.canary import RolloutResult, run_canary
from training.rollout.publish import deployment_for, publish
from training.rollout.watch import CanaryPolicy, CanaryWatch

__all__ = ["CanaryPolicy", "CanaryWatch", "RolloutResult", "deployment_for", "publish", "run_canary"]
