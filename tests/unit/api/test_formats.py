"""The dashboard's Jinja filters, table-driven: each figure as a supervisor reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment

from api.web import formats


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0.0, "0.0 ms"),
        (7.9936990000533115, "8.0 ms"),
        (9.94, "9.9 ms"),
        (43.88531899967347, "44 ms"),
        (999.4, "999 ms"),
        (1234.0, "1.2 s"),
    ],
)
def test_ms(value: float | None, text: str) -> None:
    assert formats.ms(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(None, "-"), (0, "0.0 fps"), (24.96, "25.0 fps"), (3.0, "3.0 fps")]
)
def test_fps(value: float | None, text: str) -> None:
    assert formats.fps(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (12 * 1024**2, "12.0 MiB"),
        (900 * 1024**2, "900 MiB"),
        (1024**3, "1.0 GiB"),
        (5 * 1024**5, "5120 TiB"),
    ],
)
def test_bytes(value: int | None, text: str) -> None:
    assert formats.size(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (-3, "0.0 s"),
        (0.42, "0.4 s"),
        (12.4, "12 s"),
        (60, "1 min"),
        (185, "3 min 5 s"),
        (2520, "42 min"),
        (7200, "2 h"),
        (7500, "2 h 5 min"),
        (86400, "1 d"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert formats.duration(seconds) == text


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0.3, "just now"),
        (12.0, "12 s ago"),
        (601.6, "10 min ago"),
        (NOW - timedelta(seconds=3), "3 s ago"),
        ((NOW - timedelta(hours=2)).replace(tzinfo=None), "2 h ago"),  # naive: UTC, as stored
    ],
)
def test_ago(value: Any, text: str) -> None:
    assert formats.ago(value, now=NOW) == text


@pytest.mark.parametrize(
    ("fraction", "digits", "text"),
    [
        (None, 1, "-"),
        (0.0, 1, "0.0 %"),
        (0.0437, 1, "4.4 %"),
        (0.0004, 1, "<0.1 %"),
        (0.004, 0, "<1 %"),
        (0.8789, 0, "88 %"),
        (1.0, 1, "100.0 %"),
    ],
)
def test_percent(fraction: float | None, digits: int, text: str) -> None:
    assert formats.percent(fraction, digits) == text


@pytest.mark.parametrize(("value", "text"), [(None, "-"), (0, "0"), (41873, "41,873"), (412.0, "412")])
def test_count(value: Any, text: str) -> None:
    assert formats.count(value) == text


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("latency_p99_ms", 61.73, "62 ms"),
        ("canary_fail_rate", 0.0437, "4.4 %"),
        ("gate.challenger.recall.scratch", 0.871, "87.1 %"),
        ("limit.max_missed_rate", 0.02, "2.0 %"),
        ("canary_outcomes", 412.0, "412"),
        ("gate.challenger.mAP50-95", 0.6123, "0.612"),
        ("silent_s", 601.6, "10 min"),
        ("budget_bytes", 1073741824, "1.0 GiB"),
        ("fraction", 0.8789, "87.9 %"),
        ("score", 1234.5678, "1,234.57"),
        ("connected", True, "True"),
        ("check", "blur", "blur"),
        ("x", None, "-"),
    ],
)
def test_figure(key: str, value: Any, text: str) -> None:
    assert formats.figure(value, key) == text


@pytest.mark.parametrize(
    ("value", "tz", "seconds", "text"),
    [
        (None, UTC, False, "-"),
        (datetime(2026, 3, 2, 5, 30, tzinfo=UTC), UTC, False, "2026-03-02 05:30"),
        (datetime(2026, 3, 2, 5, 30, 7, tzinfo=UTC), ZoneInfo("Europe/Berlin"), True, "2026-03-02 06:30:07"),
        (datetime(2026, 7, 2, 5, 30), ZoneInfo("Europe/Berlin"), False, "2026-07-02 07:30"),  # naive = UTC
    ],
)
def test_when(value: datetime | None, tz: Any, seconds: bool, text: str) -> None:
    assert formats.when(value, tz, seconds) == text


def test_installed_filters_render_in_a_template() -> None:
    env = Environment(autoescape=True)
    formats.install(env)
    out = env.from_string(
        "{{ p50|ms }} / {{ p99|ms }} · {{ fps|fps }} · {{ b|bytes }} · {{ age|ago }} · "
        "{{ t|when }} {{ site_zone() }}"
    ).render(p50=7.9936990000533115, p99=43.88531899967347, fps=24.96, b=1536, age=12, t=NOW)
    assert out == "8.0 ms / 44 ms · 25.0 fps · 1.5 KiB · 12 s ago · 2026-03-02 12:00 UTC"
