"""The closed loop, end to end on the simulated line: recall scoring of what the agents decided, and the demo
that runs the edge agents, the defect API (reviewed by the simulator's supervisor, factoryloop.sim.supervisor)
and the trainer service (ingest, trigger, retrain, gate, rollout controller) together."""

from factoryloop.sim.demo.scoring import ClassRecall, RecallScorer

__all__ = ["ClassRecall", "RecallScorer"]
