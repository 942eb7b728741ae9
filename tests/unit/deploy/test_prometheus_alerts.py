"""deploy/prometheus/alerts.yml: well-formed rule groups (promtool when installed), and every metric an
expression names is one the agents or the API export (edge_agent/metrics.py, api/metrics.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import api.metrics  # noqa: F401  (registers the API's metrics)
from edge_agent.metrics import _COUNTERS, _MONOTONIC

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
SEVERITIES = {"info", "warning", "critical"}
METRIC = re.compile(r"\b(factoryloop_[a-z0-9_]+)")


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def _exported() -> set[str]:
    agent = {f"factoryloop_agent_{n}_total" for n in (*_COUNTERS, *_MONOTONIC)}
    agent |= {
        "factoryloop_agent_verdicts_total",
        "factoryloop_agent_buffer_bytes",
        "factoryloop_agent_buffer_records",
    }
    families = [m for m in REGISTRY.collect() if m.name.startswith("factoryloop_api_")]
    api_names = {
        m.name + ("_total" if m.type == "counter" else "") for m in families
    }  # labelled: no sample yet
    api_names |= {s.name for m in families for s in m.samples}
    return agent | api_names


def test_groups_and_rules_are_well_formed() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert [g["name"] for g in doc["groups"]] == ["factoryloop-agents", "factoryloop-api"]
    names = [r["alert"] for r in _rules()]
    assert len(names) == len(set(names)) >= 10
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
