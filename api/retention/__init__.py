"""Retention of the API's data: each kind (outcomes, frames, reviews, the review queue, heartbeats, agent
events, alerts, rollouts) pruned after its own number of days, never what is still needed
(docs/operations.md "Retention")."""

from api.retention.policy import Cutoffs, Kind, RetentionPolicy
from api.retention.runner import run_retention

__all__ = ["Cutoffs", "Kind", "RetentionPolicy", "run_retention"]
