"""The shift calendar: validation (gaps, overlaps, names, time zones), the shift of a moment across midnight
and daylight-saving changes, the shifts of a range, site days, and the settings that build it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from pydantic import ValidationError

from api.services.shifts import ShiftCalendar, ShiftSpec, check_shifts, zone
from api.services.stats import bucketer
from api.services.timerange import Bucket
from api.settings import ApiSettings

THREE = [("early", "06:00", "14:00"), ("late", "14:00", "22:00"), ("night", "22:00", "06:00")]


def specs(rows: list[tuple[str, str, str]]) -> tuple[ShiftSpec, ...]:
    return tuple(ShiftSpec(name=n, start=a, end=b) for n, a, b in rows)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ([], "no shifts"),
        (
            [("a", "06:00", "18:00"), ("b", "19:00", "06:00")],
            "a ends at 18:00 but the next one, b, starts at 19:00 (a gap",
        ),
        (
            [("a", "06:00", "18:00"), ("b", "17:00", "06:00")],
            "a ends at 18:00 but the next one, b, starts at 17:00 (overlap",
        ),
        ([("a", "06:00", "18:00"), ("a", "18:00", "06:00")], "shift names repeated: a"),
        ([("day", "06:00", "18:00")], "one shift must cover the whole day"),
        ([("a", "06:00", "06:00"), ("b", "06:00", "06:00")], "more than one starts at 06:00"),
    ],
)
def test_invalid_calendars_say_what_is_wrong(rows: list[tuple[str, str, str]], error: str) -> None:
    with pytest.raises(ValueError) as info:
        check_shifts(specs(rows))
    assert error in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("start", "06:30"), ("start", "24:00"), ("start", "6:00"), ("name", ""), ("name", "a/b"), ("extra", 1)],
)
def test_a_shift_is_whole_hours_and_a_plain_name(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        ShiftSpec(**({"name": "early", "start": "06:00", "end": "14:00"} | {field: value}))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Mars/Olympus", "unknown time zone"),
        ("Asia/Kolkata", "whole hours"),
        ("Australia/Lord_Howe", "whole hours"),
    ],
)
def test_zones_off_whole_hours_or_unknown_are_refused(name: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        zone(name)


BERLIN = ShiftCalendar.of(specs(THREE), "Europe/Berlin")


@pytest.mark.parametrize(
    ("moment", "name", "start", "end"),
    [
        (utc(2026, 3, 2, 4, 59), "night", utc(2026, 3, 1, 21), utc(2026, 3, 2, 5)),  # 05:59 CET
        (utc(2026, 3, 2, 5), "early", utc(2026, 3, 2, 5), utc(2026, 3, 2, 13)),
        (utc(2026, 3, 2, 22, 30), "night", utc(2026, 3, 2, 21), utc(2026, 3, 3, 5)),  # past midnight UTC
        (utc(2026, 3, 29, 0), "night", utc(2026, 3, 28, 21), utc(2026, 3, 29, 4)),  # clocks forward: 7 h
        (utc(2026, 10, 25, 3), "night", utc(2026, 10, 24, 20), utc(2026, 10, 25, 5)),  # clocks back: 9 h
        (utc(2026, 7, 1, 11, 59), "early", utc(2026, 7, 1, 4), utc(2026, 7, 1, 12)),  # summer: CEST
    ],
)
def test_the_shift_of_a_moment(moment: datetime, name: str, start: datetime, end: datetime) -> None:
    got = BERLIN.at(int(moment.timestamp()))
    assert (got.name, got.start, got.end) == (name, start, end)
    assert BERLIN.shift_start(int(moment.timestamp())) == int(start.timestamp())


def test_the_shifts_of_a_range_tile_it() -> None:
    since, until = utc(2026, 3, 27, 10, 30), utc(2026, 3, 30, 2)
    runs = BERLIN.instances(since, until)
    assert runs[0].start <= since < runs[0].end and runs[-1].start < until <= runs[-1].end
    assert all(a.end == b.start for a, b in pairwise(runs))
    assert [r.name for r in runs[:4]] == ["early", "late", "night", "early"]
    hours = {(r.end - r.start) / timedelta(hours=1) for r in runs}
    assert hours == {7.0, 8.0}  # the night of 28-29 March is an hour short


@pytest.mark.parametrize(
    ("tz", "moment", "day"),
    [
        ("UTC", utc(2026, 3, 2, 23), utc(2026, 3, 2)),
        ("Europe/Berlin", utc(2026, 3, 2, 23), utc(2026, 3, 2, 23)),  # already the 3rd in Berlin
        ("Europe/Berlin", utc(2026, 7, 2, 21, 59), utc(2026, 7, 1, 22)),
        ("America/New_York", utc(2026, 3, 2, 3), utc(2026, 3, 1, 5)),
    ],
)
def test_site_days(tz: str, moment: datetime, day: datetime) -> None:
    cal = ShiftCalendar.of(specs(THREE), tz)
    assert cal.day_start(int(moment.timestamp())) == int(day.timestamp())


@pytest.mark.parametrize(
    ("hours", "start", "names"),
    [(8, 6, ("06-14", "14-22", "22-06")), (12, 7, ("07-19", "19-07")), (24, 0, ("00-00",)), (7, 0, None)],
)
def test_uniform_shifts_from_the_former_settings(
    hours: int, start: int, names: tuple[str, ...] | None
) -> None:
    cal = ShiftCalendar.uniform(hours, start)
    if names is not None:
        assert cal.names == names
    else:  # 24 is not a multiple of 7: the day's last shift is shorter
        assert cal.names == ("00-07", "07-14", "14-21", "21-00") and cal.shortest_s == 3 * 3600
    if 24 % hours == 0:  # the same buckets as the former fixed-width rule
        width, offset = hours * 3600, start * 3600 % (hours * 3600)
        new = bucketer(Bucket.SHIFT, hours, start)
        for h in range(0, 96):
            t = int(utc(2026, 3, 1).timestamp()) + h * 3600
            assert new(t) == (t - offset) // width * width + offset


def test_settings_build_the_calendar_and_refuse_a_bad_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FACTORYLOOP_API_SHIFTS",
        '[{"name":"early","start":"06:00","end":"14:00"},{"name":"late","start":"14:00","end":"22:00"},'
        '{"name":"night","start":"22:00","end":"06:00"}]',
    )
    monkeypatch.setenv("FACTORYLOOP_API_TIMEZONE", "Europe/Berlin")
    cal = ApiSettings().shift_calendar()
    assert (cal.names, cal.timezone) == (("early", "late", "night"), "Europe/Berlin")
    monkeypatch.setenv("FACTORYLOOP_API_SHIFTS", '[{"name":"day","start":"06:00","end":"18:00"}]')
    with pytest.raises(ValidationError, match="one shift must cover the whole day"):
        ApiSettings()
    monkeypatch.setenv("FACTORYLOOP_API_SHIFTS", '[{"name":"day","start":"06:00","end":"06:00","until":"x"}]')
    with pytest.raises(ValidationError, match="until"):
        ApiSettings()
    monkeypatch.delenv("FACTORYLOOP_API_SHIFTS")
    monkeypatch.setenv("FACTORYLOOP_API_TIMEZONE", "Asia/Kolkata")
    with pytest.raises(ValidationError, match="whole hours"):
        ApiSettings()
