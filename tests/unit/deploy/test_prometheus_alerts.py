"""deploy/prometheus/alerts.yml: well-formed rule groups (promtool when installed: ``check rules`` and the
rules' own unit tests, alerts.test.yml), and every metric an expression names is one the agents, the API, the
sinks, the trainer or the ingest export (collected from their registries: tests/support/prometheus.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prometheus import METRIC, exported_names

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
SEVERITIES = {"info", "warning", "critical"}
GROUPS = [
    "factoryloop-agents",
    "factoryloop-api",
    "factoryloop-sinks",
    "factoryloop-trainer",
    "factoryloop-ingest",
]


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def _exported() -> set[str]:
    return exported_names()


def test_groups_and_rules_are_well_formed() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert [g["name"] for g in doc["groups"]] == GROUPS
    names = [r["alert"] for r in _rules()]
    assert len(names) == len(set(names)) >= 20
    for r in _rules():
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r["alert"]
        assert r["labels"]["severity"] in SEVERITIES and r["annotations"]["summary"], r["alert"]
        assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_expressions_name_exported_metrics(rule: dict[str, Any]) -> None:
    used = set(METRIC.findall(rule["expr"]))
    assert used <= _exported(), f"{rule['alert']}: unknown metrics {sorted(used - _exported())}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Prometheus' tools)")
def test_promtool_checks_the_rules() -> None:
    out = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Prometheus' tools)")
def test_promtool_runs_the_rules_unit_tests() -> None:
    """alerts.test.yml: the trainer, sink and ingest alerts fire on their series and stay quiet otherwise."""
    out = subprocess.run(
        ["promtool", "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    tested = {
        t["alertname"]
        for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for t in case["alert_rule_test"]
    }
    assert {"FactoryloopTrainerDown", "FactoryloopRetrainFailing", "FactoryloopSinkLagGrowing"} <= tested
    assert "FactoryloopIngestDropping" in tested
