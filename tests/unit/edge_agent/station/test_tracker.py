"""The ejector's part tracking on a fake clock: fire at the ejector, late rejects not fired, missed parts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from edge_agent.config.station import EjectorConfig
from edge_agent.sinks.base import RejectSignal
from edge_agent.station.timing import EjectorTiming
from edge_agent.station.tracker import MISSED_CLASS, PartTracker, TrackEvent
from edge_agent.triggers.base import TriggerEvent
from factoryloop.schemas import Verdict, utc_now

FAIL, PASS, UNC = Verdict.FAIL, Verdict.PASS, Verdict.UNCERTAIN
DELAY, WINDOW = 0.5, 0.05  # the part is at the ejector 500 ms after its trigger; 50 ms of grace


def signal(part: str, verdict: Verdict = FAIL, classes: tuple[str, ...] = ("dent",)) -> RejectSignal:
    return RejectSignal(verdict, f"f-{part}", part, "l1", "s1", classes, utc_now(), 0.0, f"ev-{part}")


@dataclass
class Line:
    """A tracker, a clock, and everything it told the ejector to do (time, kind, part)."""

    tracker: PartTracker
    now: float = 0.0
    log: list[tuple[float, str, str]] = field(default_factory=list)
    fired: list[RejectSignal] = field(default_factory=list)

    def record(self, events: list[TrackEvent]) -> None:
        for e in events:
            self.log.append((round(self.now, 6), e.kind, e.part_id))
            if e.kind == "fire":
                assert e.signal is not None
                self.fired.append(e.signal)

    def trigger(self, part: str, frames: int = 1) -> None:
        self.tracker.register(TriggerEvent(part, self.now, utc_now()), self.now + DELAY, frames)

    def advance(self, to: float) -> None:
        """Move the clock to ``to``, handling every due event at its own time (as the ejector thread does)."""
        while (at := self.tracker.next_at()) is not None and at <= to:
            self.now = at
            self.record(self.tracker.due(at))
        self.now = to

    def verdict(
        self, at: float, part: str, verdict: Verdict = FAIL, classes: tuple[str, ...] = ("dent",)
    ) -> None:
        self.advance(at)
        self.record(self.tracker.verdict(part, signal(part, verdict, classes), at))

    def lost(self, at: float, part: str, why: str = "dropped") -> None:
        self.advance(at)
        self.record(self.tracker.lost(part, why, at))


def line(fail_safe: bool = True, fires: frozenset[Verdict] = frozenset({FAIL})) -> Line:
    return Line(PartTracker(WINDOW, fires, fail_safe, "l1", "s1"))


@pytest.mark.parametrize(
    ("fail_safe", "verdict_at", "expected"),
    [
        # in time: fired when the part reaches the ejector, not at the verdict
        (True, 0.1, [(0.5, "fire", "p1")]),
        (False, 0.1, [(0.5, "fire", "p1")]),
        # no verdict at the ejector: the fail-safe rejects it then; a verdict in the window changes nothing
        (True, 0.54, [(0.5, "missed", "p1"), (0.5, "fire", "p1")]),
        # without fail-safe a verdict may still come within the window: fired at once
        (False, 0.54, [(0.54, "fire", "p1")]),
        # after the window: late, not fired
        (True, 0.56, [(0.5, "missed", "p1"), (0.5, "fire", "p1"), (0.56, "late", "p1")]),
        (False, 0.56, [(0.55, "missed", "p1"), (0.56, "late", "p1")]),
    ],
)
def test_a_fail_fires_at_the_ejector_or_is_late(
    fail_safe: bool, verdict_at: float, expected: list[tuple[float, str, str]]
) -> None:
    ln = line(fail_safe)
    ln.trigger("p1")
    ln.verdict(verdict_at, "p1")
    ln.advance(2.0)
    assert ln.log == expected
    assert ln.fired == [] or ln.fired[-1].item_id == "p1"


def test_a_fire_the_ejector_thread_reaches_after_the_window_is_late_not_fired() -> None:
    ln = line()
    ln.trigger("p1")
    ln.verdict(0.1, "p1")
    ln.now = 0.6  # the thread got the CPU 100 ms after the part's time (50 ms window)
    ln.record(ln.tracker.due(0.6))
    assert ln.log == [(0.6, "late", "p1")] and ln.fired == []


def test_an_expiry_the_ejector_thread_reaches_too_late_fires_no_fail_safe() -> None:
    ln = line()
    ln.trigger("p1")
    ln.now = 0.6
    ln.record(ln.tracker.due(0.6))
    assert ln.log == [(0.6, "missed", "p1")] and ln.fired == []


def test_a_late_verdict_is_counted_and_not_fired_without_fail_safe() -> None:
    ln = line(fail_safe=False)
    ln.trigger("p1")
    ln.verdict(0.6, "p1")
    assert ln.log == [(0.55, "missed", "p1"), (0.6, "late", "p1")] and ln.fired == []


@pytest.mark.parametrize("second", [FAIL, PASS])
def test_a_verdict_past_the_window_before_the_expiry_ran_counts_the_same(second: Verdict) -> None:
    ln = line()
    ln.trigger("p1", frames=2)  # two cameras: the part resolves at its second verdict
    ln.verdict(0.2, "p1", PASS)
    ln.record(ln.tracker.verdict("p1", signal("p1", second), now=0.56))  # before the expiry was processed
    late = [(0.2, "late", "p1")] if second is FAIL else []
    assert ln.log == [(0.2, "missed", "p1"), *late]  # as if the expiry had come first
    ln.advance(2.0)
    assert ln.fired == []  # past the window: no fail-safe either


def test_each_reject_fires_for_its_own_part_in_trigger_order() -> None:
    ln = line()
    for i in range(5):
        ln.advance(i * 0.1)
        ln.trigger(f"p{i}")
    for i in reversed(range(5)):  # verdicts in any order
        ln.verdict(0.45, f"p{i}", FAIL if i % 2 == 0 else PASS)
    ln.advance(3.0)
    assert ln.log == [(0.5, "fire", "p0"), (0.7, "fire", "p2"), (0.9, "fire", "p4")]
    assert [s.item_id for s in ln.fired] == ["p0", "p2", "p4"]


@pytest.mark.parametrize(
    ("fail_safe", "expected"),
    [
        (
            True,
            [(0.1, "missed", "p1"), (0.5, "fire", "p1")],
        ),  # fail-safe reject when the part is at the ejector
        (False, [(0.1, "missed", "p1")]),  # let through
    ],
)
def test_a_lost_frame_makes_a_missed_part(fail_safe: bool, expected: list[tuple[float, str, str]]) -> None:
    ln = line(fail_safe)
    ln.trigger("p1")
    ln.lost(0.1, "p1")
    ln.advance(2.0)
    assert ln.log == expected
    if fail_safe:
        assert ln.fired[0].classes == (MISSED_CLASS,) and ln.fired[0].verdict is FAIL


@pytest.mark.parametrize(
    ("fail_safe", "expected"),
    [
        (True, [(0.5, "missed", "p1"), (0.5, "fire", "p1")]),  # at the ejector: rejected in time
        (False, [(0.55, "missed", "p1")]),  # at the end of the window: let through
    ],
)
def test_a_verdict_that_never_comes_is_missed(
    fail_safe: bool, expected: list[tuple[float, str, str]]
) -> None:
    ln = line(fail_safe)
    ln.trigger("p1")
    ln.advance(2.0)
    assert ln.log == expected


@pytest.mark.parametrize(
    ("verdicts", "fired_verdict", "classes"),
    [
        ([(PASS, ("a",)), (FAIL, ("b",))], FAIL, ("b",)),
        ([(UNC, ("a",)), (PASS, ())], UNC, ("a",)),
        ([(FAIL, ("a",)), (FAIL, ("b",))], FAIL, ("a", "b")),
        ([(PASS, ()), (PASS, ())], None, None),
    ],
)
def test_the_worst_frame_of_the_cameras_is_the_parts_verdict(
    verdicts: list[tuple[Verdict, tuple[str, ...]]],
    fired_verdict: Verdict | None,
    classes: tuple[str, ...] | None,
) -> None:
    ln = line(fires=frozenset({FAIL, UNC}))
    ln.trigger("p1", frames=2)
    for v, cls in verdicts:
        ln.verdict(0.1, "p1", v, cls)
    ln.advance(2.0)
    assert [(s.verdict, s.classes) for s in ln.fired] == ([(fired_verdict, classes)] if fired_verdict else [])
    assert len(ln.fired) <= 1  # one reject per part


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (FAIL, [(0.5, "fire", "p1")]),  # a camera failed it: rejected whatever the lost frame showed
        (PASS, [(0.2, "missed", "p1"), (0.5, "fire", "p1")]),  # could be defective on the lost frame
    ],
)
def test_one_camera_lost(first: Verdict, expected: list[tuple[float, str, str]]) -> None:
    ln = line()
    ln.trigger("p1", frames=2)
    ln.verdict(0.1, "p1", first)
    ln.lost(0.2, "p1")
    ln.advance(2.0)
    assert ln.log == expected


def test_verdicts_of_unknown_parts_and_not_fired_verdicts_do_nothing() -> None:
    ln = line()
    ln.verdict(0.1, "never-triggered")
    ln.trigger("p1")
    ln.verdict(0.2, "p1", PASS)
    ln.advance(2.0)
    assert ln.log == [] and len(ln.tracker) == 0


@pytest.mark.parametrize(
    ("config", "events", "dues"),
    [
        ({"delay_ms": 250}, [(1.0, None)], [1.25]),
        ({"distance_mm": 600, "speed_mm_s": 400}, [(1.0, None)], [2.5]),
        # 1000 counts/s nominal; then measured 2000 counts/s between the two triggers (smoothing 1: the last)
        ({"counts_to_ejector": 1000, "counts_per_s": 1000}, [(1.0, 0), (2.0, 2000)], [2.0, 2.5]),
        # a wrapped counter keeps the last rate
        ({"counts_to_ejector": 1000, "counts_per_s": 1000}, [(1.0, 60000), (2.0, 100)], [2.0, 3.0]),
    ],
)
def test_ejector_timing(
    config: dict[str, float], events: list[tuple[float, int | None]], dues: list[float]
) -> None:
    timing = EjectorTiming(EjectorConfig(**config), smoothing=1.0)
    got = [timing.due(TriggerEvent("p", at, utc_now(), enc)) for at, enc in events]
    assert got == pytest.approx(dues)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "say where the ejector is in one way"),
        (
            {"delay_ms": 100, "counts_to_ejector": 5, "counts_per_s": 10},
            "say where the ejector is in one way",
        ),
        ({"distance_mm": 100}, "distance_mm and speed_mm_s go together"),
        ({"counts_to_ejector": 100}, "counts_to_ejector needs counts_per_s"),
    ],
)
def test_ejector_config_says_what_is_wrong(config: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EjectorConfig(**config)
