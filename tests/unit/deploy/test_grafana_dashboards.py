"""deploy/grafana: the provisioning files and the dashboards, checked offline.

Every dashboard loads as JSON, has a unique uid, panels on Grafana's 24-column grid, each target on the
``datasource`` variable; every metric a panel or a variable names is one the code exports (collected from
the registries: tests/support/prometheus.py), every ``up{job=...}`` a job of deploy/prometheus/prometheus.yml;
and, when promtool is installed, every expression parses as PromQL (as recording rules, Grafana's variables
replaced by values).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prometheus import METRIC, exported_names

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
EXPECTED = {"line.json", "fleet.json", "loop.json", "kafka.json"}
# Grafana's variables, as a query would run them.
VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s", "$line": ".*", "$agent": ".*"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def _expressions(board: dict[str, Any]) -> list[tuple[str, str]]:
    """``(where, PromQL)`` of every panel target and every query variable."""
    out = [(f"{p['title']}/{t['refId']}", t["expr"]) for p in _panels(board) for t in p["targets"]]
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            out.append((f"variable {v['name']}", v["definition"]))
    return out


ALL = [(p.name, where, expr) for p in DASHBOARDS for where, expr in _expressions(_load(p))]


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_names()


def test_the_four_dashboards_and_the_provisioning() -> None:
    assert {p.name for p in DASHBOARDS} == EXPECTED
    uids = [_load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    (source,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "factoryloop.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus" and source["url"]
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "factoryloop.yml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file" and provider["folder"] == "factoryloop" and provider["options"]["path"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_layout_and_data_source(path: Path) -> None:
    board = _load(path)
    assert board["title"].startswith("factoryloop / ") and "factoryloop" in board["tags"]
    names = [v["name"] for v in board["templating"]["list"]]
    assert names[0] == "datasource" and len(names) == len(set(names))
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(board):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert target["expr"].strip(), panel["title"]
    used = {v for b, _, e in ALL if b == path.name for v in re.findall(r"\$\w+", e)}
    assert used <= set(VARIABLES) | {f"${n}" for n in names}, used


@pytest.mark.parametrize(("board", "where", "expr"), ALL, ids=[f"{b}:{w}" for b, w, _ in ALL])
def test_every_metric_is_exported(board: str, where: str, expr: str, exported: set[str]) -> None:
    used = set(METRIC.findall(expr))
    assert used <= exported, f"{board} {where}: no process exports {sorted(used - exported)}"


def test_every_job_is_scraped() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {c["job_name"] for c in config["scrape_configs"]}
    used = {job for _, _, e in ALL for job in re.findall(r'job="([^"]+)"', e)}
    assert used and used <= jobs


def test_a_renamed_metric_is_caught(exported: set[str]) -> None:
    """The check itself: a metric name that no registry has fails it."""
    assert "factoryloop_agent_frames_inspected_total" in exported
    assert not set(METRIC.findall("rate(factoryloop_agent_frames_inspectd_total[5m])")) <= exported


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Prometheus' tools)")
def test_every_expression_parses(tmp_path: Path) -> None:
    rules = []
    for i, (_, _, expr) in enumerate(e for e in ALL if not e[1].startswith("variable")):
        for name, value in VARIABLES.items():
            expr = expr.replace(name, value)
        rules.append({"record": f"dashboard:expr_{i}", "expr": expr})
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
