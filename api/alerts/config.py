"""The alerts file of a site: rules and the channels their notices go to, validated with ``extra="forbid"``
(each error named by its YAML path).

```yaml
rules:
  - {type: agent_offline, name: agent-offline, severity: critical, after_s: 60}
  - {type: defect_rate, name: defects-up, by: line, window_s: 900, factor: 2, cooldown_s: 1800}
channels:
  - {type: webhook, name: ops, url: "https://ops.example/hooks/factoryloop"}
  - {type: email, name: shift, to: [shift-lead@example.com], min_severity: critical}
```
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from api.alerts.delivery import ChannelConfig
from api.alerts.errors import AlertConfigError
from api.alerts.rules import RuleConfig
from api.alerts.rules.base import Cfg
from factoryloop.yamlpath import read_yaml, validate_mapping


class AlertsConfig(Cfg):
    rules: tuple[RuleConfig, ...] = Field(default=(), description="Evaluated in this order.")
    channels: tuple[ChannelConfig, ...] = Field(
        default=(), description="Every notice goes to each that wants it."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        for what, names in (
            ("rule", [r.name for r in self.rules]),
            ("channel", [c.name for c in self.channels]),
        ):
            twice = sorted(n for n, k in Counter(names).items() if k > 1)
            if twice:
                raise ValueError(f"{what} names must be unique: {', '.join(twice)} used more than once")
        known = {r.name for r in self.rules}
        for c in self.channels:
            unknown = sorted(set(c.rules or ()) - known)
            if unknown:
                raise ValueError(f"channel {c.name!r} names rules that do not exist: {', '.join(unknown)}")
        return self


def parse_alerts(data: Any, source: str = "<alerts>") -> AlertsConfig:
    return validate_mapping(AlertsConfig, data, source, AlertConfigError)


def load_alerts(path: str | Path) -> AlertsConfig:
    """Read and validate an alerts YAML; :class:`AlertConfigError` names each problem's path."""
    path = Path(path)
    return parse_alerts(read_yaml(path, AlertConfigError), str(path))
