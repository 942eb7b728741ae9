"""What the demo is asked to do (:class:`DemoOptions`) and what it reports (:class:`DemoReport`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from factoryloop.sim.demo.second_line import LineReport, SecondLine


@dataclass(frozen=True)
class DemoOptions:
    product: str = "demo_plate"
    line_id: str = "line-1"
    station_id: str = "st-1"
    agent_id: str = "agent-1"
    more_agents: tuple[str, ...] = ("agent-3",)  # the line's other agents: the canary widens to them
    new_class: str = "crack"
    seed: int = 11
    bootstrap_frames: int = 240  # ground-truth frames before the drift, to train the first champion
    live_start: int = 100_000  # the live line starts far from the bootstrap frames (never trained on)
    drift_after: int = 60  # live frames before the new class appears
    new_class_rate: float = 0.35
    fps: float = 10.0  # per agent
    pass_sample_rate: float = 0.5  # share of PASS frames the agent sends (a missed crack is a PASS)
    review_budget: int = 150  # the simulated supervisor stops after this many reviews (through the API)
    review_pace_s: float = 0.0  # its time per review (0: as fast as the API answers)
    reviews_to_retrain: int = 100  # reviews with the new class before the trigger fires (40 were too few)
    frames_after_swap: int = 150  # live frames to score the new model on
    canary_window_s: float = 20.0
    timeout_s: float = 2100.0
    epochs_bootstrap: int | None = None
    # A .pt of the line's classes to register as the first champion instead of training it on the bootstrap
    # frames (``factoryloop model register``): the closed-loop test brings the session's tiny model, which
    # the same recipe trained on the same line.
    champion_weights: Path | None = None
    epochs_finetune: int | None = None
    max_retrains: int = 2  # a challenger the gate refuses is followed by one more try on more reviews
    # The agent keeps sending frames during a retrain (~5/s): a second retrain would train on 5x the frames.
    max_train_images: int = 500
    second_line: SecondLine | None = field(default_factory=SecondLine)  # the site's other product; None: none


@dataclass
class DemoReport:
    champion: str = ""
    challenger: str = ""
    gate: str = ""
    edge_model: str = ""  # which file of the promoted challenger the agents run, and why (INT8 check)
    trigger: str = ""
    refused: list[str] = field(default_factory=list)  # challengers the gate refused before one passed
    rollout: str = ""
    recall_before: float | None = None
    recall_after: float | None = None
    support_before: int = 0
    support_after: int = 0
    other_recall_before: dict[str, float | None] = field(default_factory=dict)
    other_recall_after: dict[str, float | None] = field(default_factory=dict)
    reject_latency_ms: tuple[float | None, float | None] = (None, None)
    seen_to_serving_s: float | None = (
        None  # first new-class outcome -> the fixed model serving on every agent
    )
    serving_s: dict[str, float] = field(default_factory=dict)  # per plate agent: first seen -> serving it
    stages: list[str] = field(default_factory=list)  # the rollout's transitions (which agents, when)
    canary_to_rollback_s: float | None = None  # a rolled-back canary: its stage's start -> the rollback
    steps_s: dict[str, float] = field(default_factory=dict)
    reviews: dict[str, int] = field(default_factory=dict)  # per action
    reviews_by_class: dict[str, int] = field(default_factory=dict)  # true boxes per class in the reviews
    reviews_before_serving: int | None = None  # reviews made before the fixed model served on every agent
    reviews_at_retrain: dict[str, int] = field(default_factory=dict)  # "total" and per class, as it started
    lines: dict[str, LineReport] = field(default_factory=dict)  # per product: what its agent reported
    cross_product: str = ""  # one product's model sent to the other product's line, and what came of it
