"""Numbers as a supervisor reads them: the dashboard's Jinja filters (one set, used by every page).

Each filter takes ``None`` (a figure an agent did not report) and shows ``-`` for it. Milliseconds keep
one decimal below 10 ms and none above (``8.0 ms``, ``44 ms``, ``1.2 s``); rates one decimal (``25.0 fps``);
bytes in binary units (``12.0 MiB``); ages and durations in words (``12 s ago``, ``3 min ago``,
``2 h 5 min``); fractions as percentages (``4.2 %``, ``<0.1 %``); counts with thousands separators; times in
the site's time zone (``2026-03-02 14:05``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

NONE = "-"
UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def ms(value: float | None) -> str:
    if value is None:
        return NONE
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def fps(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f} fps"


def size(value: int | float | None) -> str:
    """Bytes in binary units: one decimal below 100 of a unit, none above (``1.5 KiB``, ``120 MiB``)."""
    if value is None:
        return NONE
    n, unit = float(value), 0
    while abs(n) >= 1024 and unit < len(UNITS) - 1:
        n, unit = n / 1024, unit + 1
    if unit == 0:
        return f"{int(n)} B"
    return f"{n:.1f} {UNITS[unit]}" if abs(n) < 100 else f"{n:.0f} {UNITS[unit]}"


def duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 5 s`` (under 10 min), ``42 min``, ``2 h 5 min``, ``3 d 4 h``."""
    if seconds is None:
        return NONE
    s = max(float(seconds), 0.0)
    if s < 1:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    m = int(s // 60)
    if m < 10:
        rest = int(s - m * 60)
        return f"{m} min {rest} s" if rest else f"{m} min"
    if m < 60:
        return f"{m} min"
    h = m // 60
    if h < 24:
        return f"{h} h {m % 60} min" if m % 60 else f"{h} h"
    d = h // 24
    return f"{d} d {h % 24} h" if h % 24 else f"{d} d"


def ago(value: float | datetime | None, now: datetime | None = None) -> str:
    """An age in seconds, or the time since a datetime: ``just now`` under a second, else ``12 s ago``."""
    if value is None:
        return NONE
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        value = ((now or datetime.now(UTC)) - when).total_seconds()
    if value < 1:
        return "just now"
    return f"{duration(value)} ago"


def percent(fraction: float | None, digits: int = 1) -> str:
    """A fraction as a percentage; a non-zero one too small to show says so (``<0.1 %``)."""
    if fraction is None:
        return NONE
    p = 100 * float(fraction)
    smallest = 10.0**-digits
    if 0 < p < smallest:
        return f"<{smallest:.{digits}f} %"
    return f"{p:.{digits}f} %"


def count(value: int | float | None) -> str:
    return NONE if value is None else f"{int(value):,}"


def number(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{float(value):.{digits}f}"


def figure(value: Any, key: str = "") -> str:
    """A figure named ``key`` (a rollout's or an alert's evidence, a gate's tags): ``*_ms`` as milliseconds,
    ``*_s`` as a duration, ``*_bytes`` in binary units, rates, recalls, precisions and shares as percentages,
    whole numbers as counts, the rest to 3 digits; text and flags as they are."""
    if value is None:
        return NONE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    name = key.rsplit(".", 1)[-1].lower()
    if name.endswith("_ms"):
        return ms(value)
    if name.endswith("_s"):
        return duration(value)
    if name.endswith("_bytes"):
        return size(value)
    if any(w in key.lower() for w in ("rate", "recall", "precision", "share", "disagreement", "fraction")):
        return percent(value)
    v = float(value)
    if v.is_integer() and abs(v) < 1e15:
        return count(v)
    return f"{v:.3g}" if abs(v) < 1 else f"{v:,.2f}"


def when(value: datetime | None, tz: tzinfo = UTC, seconds: bool = False) -> str:
    """A time in the site's zone (naive ones are UTC, as the database stores them)."""
    if value is None:
        return NONE
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _site_zone(context: Context) -> tzinfo:
    request = context.get("request")
    ctx = getattr(getattr(getattr(request, "app", None), "state", None), "ctx", None)
    return UTC if ctx is None else ctx.settings.shift_calendar().tz


@pass_context
def _when(context: Context, value: datetime | None, seconds: bool = False) -> str:
    return when(value, _site_zone(context), seconds)


@pass_context
def _zone_name(context: Context) -> str:
    return str(getattr(_site_zone(context), "key", "UTC"))


FILTERS: dict[str, Callable[..., str]] = {
    "ms": ms,
    "fps": fps,
    "bytes": size,
    "duration": duration,
    "ago": ago,
    "pct": percent,
    "count": count,
    "num": number,
    "figure": figure,
    "when": _when,
}


def install(env: Environment) -> None:
    """Add the filters to a Jinja environment (the dashboard's templates), and ``site_zone()``."""
    env.filters.update(FILTERS)
    env.globals["site_zone"] = _zone_name
