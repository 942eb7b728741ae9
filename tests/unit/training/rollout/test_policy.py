"""Rollout policy YAML: defaults, per-product overrides, the implied last stage, errors named by YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.rollout.policy import (
    AgentsStage,
    AllStage,
    FractionStage,
    PolicyConfigError,
    RolloutPolicies,
    ShadowStage,
    load_policies,
    parse_policies,
)
from training.settings import TrainSettings


def test_defaults_one_agent_then_all_five_minutes() -> None:
    p = RolloutPolicies().for_product("anything")
    assert p.mode == "auto" and p.window_s == 300
    assert p.stages == (AgentsStage(count=1), AllStage())


def test_products_override_the_default_and_a_last_all_is_implied(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "default:\n  window_s: 60\n  stages:\n    - {type: fraction, fraction: 0.25}\n"
        "products:\n  steel: {mode: manual}\n"
    )
    policies = load_policies(path)
    assert policies.for_product("tile").stages == (FractionStage(fraction=0.25), AllStage())
    assert policies.for_product("tile").window_s == 60
    assert policies.for_product("steel").mode == "manual"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"default": {"mode": "sometimes"}}, "default.mode"),
        ({"default": {"stages": [{"type": "agents"}]}}, "default.stages[0]"),
        ({"default": {"stages": [{"type": "agents", "count": 1, "agents": ["a"]}]}}, "default.stages[0]"),
        ({"default": {"stages": [{"type": "all"}, {"type": "agents", "count": 1}]}}, "default.stages"),
        ({"default": {"stages": [{"type": "fraction", "fraction": 1.5}]}}, "default.stages[0].fraction"),
        ({"products": {"steel": {"judge": {"max_errorz": 1}}}}, "products.steel.judge.max_errorz"),
        ({"default": {"window_s": 0}}, "default.window_s"),
        ({"rollouts": {}}, "rollouts"),
        ({"default": {"stages": [{"type": "shadow"}]}}, "default.stages[0]"),
        ({"default": {"stages": [{"type": "shadow", "count": 1, "fraction": 0.5}]}}, "default.stages[0]"),
        (
            {"default": {"stages": [{"type": "shadow", "count": 1, "sample_rate": 0}]}},
            "default.stages[0].sample_rate",
        ),
        (
            {"default": {"stages": [{"type": "agents", "count": 1}, {"type": "shadow", "count": 1}]}},
            "default.stages",
        ),
        (
            {"default": {"stages": [{"type": "shadow", "count": 1, "lines": ["l1"]}]}},
            "default.stages[0].lines",
        ),
        ({"default": {"judge": {"max_disagreement": 1.5}}}, "default.judge.max_disagreement"),
        ({"default": {"judge": {"min_shadow_frames": 0}}}, "default.judge.min_shadow_frames"),
    ],
)
def test_errors_name_their_yaml_path(data: dict[str, object], expected: str) -> None:
    with pytest.raises(PolicyConfigError) as err:
        parse_policies(data, "policy.yaml")
    assert any(line.startswith(expected) for line in err.value.errors), err.value.errors


def test_unreadable_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigError, match="cannot read"):
        load_policies(tmp_path / "missing.yaml")


def test_default_policies_come_from_the_canary_settings(tmp_path: Path) -> None:
    from training.rollout.policy import default_policies

    p = default_policies(TrainSettings(canary_window_s=42, canary_max_errors=3, state_dir=tmp_path)).default
    assert p.window_s == 42 and p.judge.max_errors == 3
    path = tmp_path / "p.yaml"
    path.write_text("default: {window_s: 7}\n")
    assert default_policies(TrainSettings(rollout_policy_file=path, state_dir=tmp_path)).default.window_s == 7


def test_shadow_stages_come_first_and_the_judge_bounds_them(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "default:\n  stages:\n    - {type: shadow, fraction: 0.5, sample_rate: 0.25}\n"
        "    - {type: shadow, agents: [a1, a2]}\n    - {type: agents, count: 1}\n"
        "  judge: {max_disagreement: null, max_missed_rate: 0.05, min_shadow_frames: 200}\n"
    )
    p = load_policies(path).default
    assert p.stages == (
        ShadowStage(fraction=0.5, sample_rate=0.25),
        ShadowStage(agents=("a1", "a2")),
        AgentsStage(count=1),
        AllStage(),
    )
    assert p.judge.max_disagreement is None and p.judge.max_missed_rate == 0.05
    assert p.judge.min_shadow_frames == 200
    assert RolloutPolicies().default.judge.max_disagreement == 0.2  # the defaults judge shadows too


def test_validate_policy_command_shows_the_stages_and_names_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("default:\n  stages: [{type: shadow, count: 1}, {type: agents, count: 1}]\n")
    bad.write_text("products:\n  steel:\n    stages: [{type: shadow, count: 1, sample_rate: 2}]\n")
    ok = CliRunner().invoke(app, ["validate-policy", str(good)])
    assert ok.exit_code == 0 and "stages shadow -> agents -> all" in ok.output, ok.output
    failed = CliRunner().invoke(app, ["validate-policy", str(bad)])
    assert failed.exit_code == 2 and "products.steel.stages[0].sample_rate" in failed.output, failed.output
