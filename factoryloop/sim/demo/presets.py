"""Sizes of the closed-loop demo: the full demo (``./dev demo``) and the CI-sized ``--quick`` loop. Both run
the steel-plate line (its drift, retrain and canary) beside a second product's line, the tile line."""

from __future__ import annotations

from factoryloop.sim import SimConfig
from factoryloop.sim.demo.options import DemoOptions
from factoryloop.sim.demo.second_line import SecondLine
from factoryloop.sim.presets import DEMO_CRACK_RATE, DEMO_SIM


def demo_sim_config() -> SimConfig:
    """The demo line before the drift (no cracks): 320x240 frames, large high-contrast defects."""
    return DEMO_SIM


def demo_options(
    *, quick: bool = False, seed: int = 11, product: str = "demo_plate", second_product: str = "demo_tile"
) -> DemoOptions:
    # The tile line (SecondLine's sizes: 160 bootstrap frames, the scratch recipe, its agent at 2 fps).
    second = SecondLine(product=second_product, seed=seed)
    if quick:
        return DemoOptions(
            product=product,
            second_line=second,
            seed=seed,
            new_class_rate=DEMO_CRACK_RATE,
            bootstrap_frames=200,
            drift_after=40,
            fps=5.0,  # per agent: two agents (8 fps with one agent before)
            reviews_to_retrain=120,
            # Through the API in priority order, ~40 % of the reviews show a crack (pre-drift frames too): the
            # budget leaves room for the 120 the trigger needs.
            review_budget=500,
            frames_after_swap=120,
            canary_window_s=15.0,
            timeout_s=3000.0,  # 1500 before the second product's line, 1800 before the API and agent-3
        )
    return DemoOptions(
        product=product,
        second_line=second,
        seed=seed,
        new_class_rate=DEMO_CRACK_RATE,
        bootstrap_frames=256,
        drift_after=100,
        fps=6.0,  # per agent: two agents
        reviews_to_retrain=120,
        review_budget=550,
        frames_after_swap=200,
        canary_window_s=20.0,
    )
