"""The closed loop, end to end on the simulated line: a simulated supervisor that reviews sampled frames
with the line's ground truth, recall scoring of what the agents decided, and the demo that ties the edge
agent, Kafka, ingest, retraining, the gate and the rollout together."""

from training.loop.scoring import ClassRecall, RecallScorer
from training.loop.supervisor import SimulatedSupervisor, review_label

__all__ = ["ClassRecall", "RecallScorer", "SimulatedSupervisor", "review_label"]
