"""Rollout: the controller (:mod:`training.rollout.controller`) owns each product's champion, canary and
deployments; the canary is judged by :class:`CanaryWatch`; deployments go out on the compacted topic."""

from training.rollout.publish import deployment_for, publish
from training.rollout.watch import CanaryPolicy, CanaryWatch

__all__ = ["CanaryPolicy", "CanaryWatch", "deployment_for", "publish"]
