"""Who leads: the trainer whose consumer owns the one-partition rollouts topic, as the group coordinator's
last completed rebalance says (a rebalance listener), not as a momentary empty assignment says.

A rebalance in progress (a trainer joining, or this one rejoining after Kafka came back) revokes the partition
for a moment: the controller then pauses, keeping its rollouts, and carries on if the rebalance gives the
partition back (no resume from MLflow, no new window); only a completed rebalance that gives it to another
trainer ends its leadership."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from kafka.consumer.subscription_state import ConsumerRebalanceListener

logger = logging.getLogger(__name__)


class Leadership(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.owns = False  # the last completed rebalance assigned the partition to this consumer
        self.settled = False  # no rebalance in progress (False until the first one completes)

    def on_partitions_revoked(self, revoked: Collection[Any]) -> None:
        self.settled = False
        logger.info("rollouts group: rebalancing (revoked %s)", sorted(map(str, revoked)))

    def on_partitions_lost(self, lost: Collection[Any]) -> None:  # the group went on without this member
        self.settled = False
        logger.info("rollouts group: membership lost (%s)", sorted(map(str, lost)))

    def on_partitions_assigned(self, assigned: Collection[Any]) -> None:
        self.owns, self.settled = bool(assigned), True
        logger.info("rollouts group: rebalanced, partition %s", "assigned" if assigned else "not assigned")
