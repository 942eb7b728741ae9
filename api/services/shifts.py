"""The site's shift calendar: named shifts in the site's time zone (``FACTORYLOOP_API_SHIFTS``,
``FACTORYLOOP_API_TIMEZONE``), the shift and day a time falls in, and the shifts of a time range.

The shifts tile the day: sorted by start, each ends where the next one starts (the last one wraps past
midnight to the first), so every moment belongs to exactly one shift. Starts are whole hours and the zone's
offsets from UTC are whole hours, so a shift is a union of UTC hours and the stats read it from the hourly
summaries. Local times are resolved by ``zoneinfo`` (a start in a daylight-saving gap or fold takes the offset
before the change; a shift across the change is an hour shorter or longer that night).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

WholeHour = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):00$", description="HH:00, local time.")]
DAY_S = 86400


class ShiftSpec(BaseModel):
    """One shift of the calendar: ``{"name": "early", "start": "06:00", "end": "14:00"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,31}$")
    start: WholeHour
    end: WholeHour

    @property
    def start_hour(self) -> int:
        return int(self.start[:2])

    @property
    def end_hour(self) -> int:
        return int(self.end[:2])


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One worked shift: its name and its UTC start and end."""

    name: str
    start: datetime
    end: datetime


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError saying what to set when it is unknown or not on whole hours."""
    try:
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name, e.g. Europe/Berlin or UTC") from exc
    year = datetime.now(UTC).year
    for y in (year - 1, year, year + 1):
        for month in range(1, 13):
            for day in (1, 15):
                offset = datetime(y, month, day, 12, tzinfo=tz).utcoffset() or timedelta(0)
                if offset.total_seconds() % 3600:
                    raise ValueError(
                        f"time zone {name} is {offset} from UTC on {y}-{month:02d}-{day:02d}: the shifts are "
                        "read from hourly summaries, so the zone's offsets must be whole hours"
                    )
    return tz


def check_shifts(shifts: tuple[ShiftSpec, ...]) -> tuple[ShiftSpec, ...]:
    """The shifts sorted by start; ValueError naming the gap, overlap or repeated name otherwise."""
    if not shifts:
        raise ValueError("no shifts: give at least one, e.g. [{'name':'day','start':'06:00','end':'06:00'}]")
    names = [s.name for s in shifts]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"shift names repeated: {', '.join(repeated)}")
    ordered = tuple(sorted(shifts, key=lambda s: s.start_hour))
    if len(ordered) == 1:
        if ordered[0].start != ordered[0].end:
            s = ordered[0]
            raise ValueError(
                f"one shift must cover the whole day: {s.name} runs {s.start}-{s.end}, leaving "
                f"{s.end}-{s.start} in no shift (set end to {s.start}, or add a shift for those hours)"
            )
        return ordered
    starts = [s.start for s in ordered]
    if len(set(starts)) < len(starts):
        same = sorted({a for a in starts if starts.count(a) > 1})
        raise ValueError(f"the shifts overlap: more than one starts at {', '.join(same)}")
    for s, nxt in zip(ordered, (*ordered[1:], ordered[0]), strict=True):
        if s.end != nxt.start:
            gap = _hours(s.start_hour, s.end_hour) < _hours(s.start_hour, nxt.start_hour)
            what = "a gap" if gap else "overlap"
            raise ValueError(
                f"the shifts must cover the day without gaps or overlaps: {s.name} ends at {s.end} but the "
                f"next one, {nxt.name}, starts at {nxt.start} ({what}; add a shift such as 'off' for hours "
                "nobody works)"
            )
    return ordered


def _hours(start: int, end: int) -> int:
    """Hours from ``start`` to ``end`` on the clock, wrapping past midnight (1..24)."""
    return (end - start) % 24 or 24


@dataclass(frozen=True)
class ShiftCalendar:
    """Build with :meth:`of` (validated) or :meth:`uniform` (the former ``shift_hours`` settings)."""

    shifts: tuple[ShiftSpec, ...]
    tz: ZoneInfo
    _cache: dict[int, ShiftInstance] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def of(cls, shifts: tuple[ShiftSpec, ...], timezone: str = "UTC") -> ShiftCalendar:
        return cls(check_shifts(tuple(shifts)), zone(timezone))

    @classmethod
    def uniform(cls, shift_hours: int = 8, start_hour: int = 6, timezone: str = "UTC") -> ShiftCalendar:
        """Shifts of ``shift_hours`` from ``start_hour``, named by their hours (``06-14``); when 24 is not a
        multiple the day's last shift is shorter."""
        starts = [(start_hour + k * shift_hours) % 24 for k in range(-(-24 // shift_hours))]
        ends = [*starts[1:], starts[0]]
        specs = tuple(
            ShiftSpec(name=f"{a:02d}-{b:02d}", start=f"{a:02d}:00", end=f"{b:02d}:00")
            for a, b in zip(starts, ends, strict=True)
        )
        return cls.of(specs, timezone)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.shifts)

    @property
    def timezone(self) -> str:
        return self.tz.key

    @property
    def shortest_s(self) -> int:
        """Seconds of the shortest shift (bounds the number of shift buckets of a range)."""
        return min(_hours(s.start_hour, s.end_hour) for s in self.shifts) * 3600

    def _on(self, day: date, spec: ShiftSpec) -> ShiftInstance:
        start = datetime.combine(day, time(spec.start_hour), tzinfo=self.tz)
        end_day = day + timedelta(days=1 if spec.end_hour <= spec.start_hour else 0)
        end = datetime.combine(end_day, time(spec.end_hour), tzinfo=self.tz)
        return ShiftInstance(spec.name, start.astimezone(UTC), end.astimezone(UTC))

    def instances(self, since: datetime, until: datetime) -> list[ShiftInstance]:
        """The shifts overlapping ``[since, until)``, in time order."""
        first = since.astimezone(self.tz).date() - timedelta(days=1)
        days = (until.astimezone(self.tz).date() - first).days + 1
        found = [
            self._on(first + timedelta(days=k), spec) for k in range(max(days, 0) + 1) for spec in self.shifts
        ]
        return sorted((i for i in found if i.start < until and i.end > since), key=lambda i: i.start)

    def at(self, epoch: int) -> ShiftInstance:
        """The shift a moment (epoch seconds) falls in."""
        hit = self._cache.get(epoch)
        if hit is None:
            t = datetime.fromtimestamp(epoch, UTC)
            hit = next(i for i in self.instances(t, t + timedelta(microseconds=1)))
            if len(self._cache) < 100_000:
                self._cache[epoch] = hit
        return hit

    def shift_start(self, epoch: int) -> int:
        return int(self.at(epoch).start.timestamp())

    def day_start(self, epoch: int) -> int:
        """Local midnight (as epoch seconds) of the site's day ``epoch`` falls in."""
        day = datetime.fromtimestamp(epoch, self.tz).date()
        return int(datetime.combine(day, time(0), tzinfo=self.tz).timestamp())

    def name_of(self, epoch: int) -> str:
        return self.at(epoch).name
