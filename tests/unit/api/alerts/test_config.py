"""The alerts YAML: valid files load; each error is named by its YAML path, also by
``factoryloop api validate-alerts``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from api.alerts.config import load_alerts, parse_alerts
from api.alerts.errors import AlertConfigError
from api.alerts.rules import RULES
from api.cli import app

EXAMPLE = {
    "rules": [
        {"type": "agent_offline", "name": "agent-offline", "severity": "critical", "after_s": 60},
        {"type": "camera", "name": "camera", "checks": ["blur", "frozen", "dark"], "scope": {"line": "L1"}},
        {"type": "defect_rate", "name": "defects-up", "by": "station", "factor": 2, "absolute": 0.02},
        {"type": "rollout_rolled_back", "name": "rolled-back", "severity": "info"},
        {"type": "buffer_full", "name": "buffer", "fraction": 0.8, "budget_bytes": 2**30},
        {"type": "late_rejects", "name": "late", "window_s": 600, "max_count": 3, "cooldown_s": 0},
    ],
    "channels": [
        {"type": "webhook", "name": "ops", "url": "http://127.0.0.1:9/hook", "retries": 2},
        {"type": "email", "name": "shift", "to": ["lead@example.com"], "min_severity": "critical"},
    ],
}


def test_the_example_covers_every_rule_type_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(EXAMPLE))
    config = load_alerts(path)
    assert sorted(r.type for r in config.rules) == sorted(RULES)
    assert [c.name for c in config.channels] == ["ops", "shift"]


def _with(path: str, value: Any) -> dict[str, Any]:
    data = yaml.safe_load(yaml.safe_dump(EXAMPLE))
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("rules.0.after_s", -1, "rules[0].after_s: Input should be greater than 0"),
        ("rules.0.severity", "page", "rules[0].severity: Input should be 'info', 'warning' or 'critical'"),
        ("rules.1.checks", ["blurry"], "rules[1].checks[0]: Input should be"),
        ("rules.1.scope", {"line": "L1", "cell": "c"}, "rules[1].scope.cell: Extra inputs are not permitted"),
        ("rules.2.factor", None, None),  # absolute alone is a condition
        ("rules.3.within_s", 0, "rules[3].within_s: Input should be greater than 0"),
        ("rules.4.fraction", 1.5, "rules[4].fraction: Input should be less than or equal to 1"),
        ("rules.5.count", ["late"], "rules[5].count[0]: Input should be 'late_rejects' or 'missed_parts'"),
        ("rules.5.type", "laser", "rules[5]: Input tag 'laser' found using 'type' does not match"),
        ("rules.5.name", "agent-offline", "rule names must be unique: agent-offline"),
        ("channels.0.url", "ftp://x", "channels[0].url: String should match pattern"),
        ("channels.0.rules", ["nope"], "channel 'ops' names rules that do not exist: nope"),
        ("channels.1.to", [], "channels[1].to: Tuple should have at least 1 item"),
    ],
)
def test_errors_name_their_yaml_path(path: str, value: Any, error: str | None) -> None:
    data = _with(path, value)
    if error is None:
        parse_alerts(data)
        return
    with pytest.raises(AlertConfigError) as info:
        parse_alerts(data, "site.yaml")
    assert any(e.startswith(error) or error in e for e in info.value.errors), info.value.errors


def test_defect_rate_needs_a_condition() -> None:
    data = _with("rules.2.absolute", None)
    data["rules"][2]["factor"] = None
    with pytest.raises(AlertConfigError, match="give factor, absolute or both"):
        parse_alerts(data)


def test_validate_alerts_command(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(yaml.safe_dump(EXAMPLE))
    bad.write_text(yaml.safe_dump(_with("rules.4.fraction", 2)))
    ok = CliRunner().invoke(app, ["validate-alerts", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "6 rule(s), 2 channel(s)" in ok.output and "rule late: late_rejects" in ok.output
    failed = CliRunner().invoke(app, ["validate-alerts", str(bad)])
    assert failed.exit_code == 1
    assert "rules[4].fraction: Input should be less than or equal to 1" in failed.output
    missing = CliRunner().invoke(app, ["validate-alerts", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and "<file>: cannot read" in missing.output
