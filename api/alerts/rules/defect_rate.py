"""``defect_rate``: a line's (or station's) defect rate over the last ``window_s`` above its baseline.

The rate is the share of non-shadow inspections with a defect verdict (FAIL, and UNCERTAIN if
``count_uncertain``). The baseline is ``baseline`` when given, else the rate measured over the
``baseline_s`` before the window (whole hours, from the hourly summaries). It fires when the rate is at least
``factor`` times the baseline and/or at least ``absolute`` above it (each given condition must hold)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import Field, model_validator

from api.alerts.rules.base import Facts, Finding, Rule, RuleConfigBase


class DefectRateConfig(RuleConfigBase):
    type: Literal["defect_rate"] = "defect_rate"
    by: Literal["line", "station"] = "line"
    window_s: float = Field(default=900.0, ge=60, description="The recent window whose rate is judged.")
    baseline_s: float = Field(default=86400.0, ge=3600, description="The history before it (whole hours).")
    baseline: float | None = Field(default=None, ge=0, le=1, description="A fixed baseline rate instead.")
    factor: float | None = Field(default=2.0, gt=1, description="Fires at rate >= baseline x factor.")
    absolute: float | None = Field(default=None, gt=0, le=1, description="Fires at rate >= baseline + this.")
    min_inspections: int = Field(
        default=50, ge=1, description="Fewer in the window (or baseline): no judgement."
    )
    count_uncertain: bool = False

    @model_validator(mode="after")
    def _a_condition(self) -> Self:
        if self.factor is None and self.absolute is None:
            raise ValueError("give factor, absolute or both: with neither the rule could never fire")
        if self.scope.station is not None and self.by != "station":
            raise ValueError("scope.station needs by: station (per line, stations are not told apart)")
        return self


def _rate(counts: dict[str, int], defects: tuple[str, ...]) -> tuple[float, int]:
    total = sum(counts.values())
    return (sum(counts.get(v, 0) for v in defects) / total if total else 0.0), total


class DefectRateRule(Rule):
    config: DefectRateConfig

    def __init__(self, config: DefectRateConfig) -> None:
        self.config = config

    def _exceeds(self, rate: float, baseline: float) -> bool:
        c = self.config
        return (c.factor is None or rate >= baseline * c.factor) and (
            c.absolute is None or rate >= baseline + c.absolute
        )

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        c = self.config
        defects = ("FAIL", "UNCERTAIN") if c.count_uncertain else ("FAIL",)
        by_station = c.by == "station"
        start = now - timedelta(seconds=c.window_s)
        window = facts.verdicts(start, now, by_station=by_station, product=c.scope.product)
        history = {}
        if c.baseline is None:
            hour_start = start.replace(minute=0, second=0, microsecond=0)  # whole hours before the window
            history = facts.verdicts(
                hour_start - timedelta(seconds=c.baseline_s),
                hour_start,
                by_station=by_station,
                product=c.scope.product,
            )
        out = []
        for (line, station), counts in sorted(window.items()):
            if c.scope.line not in (None, line) or c.scope.station not in (
                None,
                station,
            ):  # product: in the query
                continue
            rate, n = _rate(counts, defects)
            if n < c.min_inspections:
                continue
            baseline, n_base = (
                (c.baseline, 0)
                if c.baseline is not None
                else _rate(history.get((line, station), {}), defects)
            )
            if c.baseline is None and n_base < c.min_inspections:
                continue
            if not self._exceeds(rate, baseline):
                continue
            where = f"{line}/{station}" if station else line
            out.append(
                Finding(
                    subject=f"station:{line}/{station}" if station else f"line:{line}",
                    message=f"defect rate of {where} at {rate:.1%} over the last {c.window_s / 60:.0f} min "
                    f"({n} inspections), baseline {baseline:.1%}",
                    evidence={
                        "rate": round(rate, 4),
                        "inspections": n,
                        "defects": sum(counts.get(v, 0) for v in defects),
                        "baseline": round(baseline, 4),
                        "baseline_inspections": n_base,
                        "window_s": c.window_s,
                        "verdicts": dict(counts),
                    },
                    line_id=line,
                    station_id=station or None,
                    product=c.scope.product,
                )
            )
        return out
