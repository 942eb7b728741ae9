"""Part tracking for the ejector: pure logic on the caller's clock (``now`` is passed in; no threads, sleeps).

Each triggered part is due at the ejector at ``due`` (trigger time + the ejector delay). Its frames' verdicts
arrive later; the worst of them (FAIL > UNCERTAIN > PASS) is the part's. A signal is fired at ``due`` (or at
once when the verdict comes after ``due`` but within ``window``); a signal that would fire after
``due + window`` (its verdict came too late, or the ejector thread got the CPU too late) is **late**: the part
has passed the ejector, firing would hit another part, so it is not fired. A part without a verdict is
**missed**: as soon as a frame of it is lost (dropped, an inference error, no frame), else when it reaches the
ejector (``fail_safe``: a reject is fired for it then) or, letting it through, at ``due + window``.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from edge_agent.sinks.base import RejectSignal
from edge_agent.triggers.base import TriggerEvent
from factoryloop.schemas import Verdict

SEVERITY = {Verdict.PASS: 0, Verdict.UNCERTAIN: 1, Verdict.FAIL: 2}
MISSED_CLASS = "missed_part"  # the class of a fail-safe reject (the part has no verdict)


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """What the ejector thread must do or report: fire ``signal`` now, count a late reject, a missed part."""

    kind: Literal["fire", "late", "missed"]
    part_id: str
    signal: RejectSignal | None = None
    detail: str = ""


@dataclass(slots=True)
class _Part:
    event: TriggerEvent
    due: float
    frames: int
    received: int = 0
    lost: list[str] = field(default_factory=list)
    signal: RejectSignal | None = None  # the worst so far

    def complete(self) -> bool:
        return self.received + len(self.lost) >= self.frames


def worst(a: RejectSignal | None, b: RejectSignal) -> RejectSignal:
    """The more severe signal; at equal severity the first, with the classes of both."""
    if a is None or SEVERITY[b.verdict] > SEVERITY[a.verdict]:
        return b
    if SEVERITY[b.verdict] < SEVERITY[a.verdict]:
        return a
    classes = a.classes + tuple(c for c in b.classes if c not in a.classes)
    return dataclasses.replace(a, classes=classes)


class PartTracker:
    """Not thread-safe: the ejector calls it under its lock. ``fires``: the verdicts that reach the sinks."""

    def __init__(
        self,
        window_s: float,
        fires: frozenset[Verdict],
        fail_safe: bool,
        line_id: str,
        station_id: str,
        remember: int = 4096,
    ) -> None:
        self.window_s = window_s
        self.fires = fires
        self.fail_safe = fail_safe
        self.line_id, self.station_id = line_id, station_id
        self._parts: dict[str, _Part] = {}
        # (at, seq, part id, the signal to fire | None: the part's expiry, the signal's deadline)
        self._heap: list[tuple[float, int, str, RejectSignal | None, float]] = []
        self._seq = 0
        self._gone: OrderedDict[str, tuple[str, float]] = OrderedDict()  # missed parts: (why, deadline)
        self._remember = remember

    def __len__(self) -> int:
        """Parts waiting for a verdict or for their ejector time (0: nothing left to fire or give up on)."""
        return len(self._heap)

    def next_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def _push(self, at: float, part_id: str, signal: RejectSignal | None, deadline: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, part_id, signal, deadline))

    def register(self, event: TriggerEvent, due: float, frames: int = 1) -> None:
        """A part was triggered; it reaches the ejector at ``due`` (monotonic seconds)."""
        self._parts[event.part_id] = _Part(event, due, frames)
        deadline = due + self.window_s
        self._push(due if self.fail_safe else deadline, event.part_id, None, deadline)  # its expiry

    def verdict(self, part_id: str, signal: RejectSignal, now: float) -> list[TrackEvent]:
        part = self._parts.get(part_id)
        if part is None:
            return self._after_gone(part_id, signal, now)
        part.received += 1
        part.signal = worst(part.signal, signal)
        return self._resolve(part, now) if part.complete() else []

    def lost(self, part_id: str, reason: str, now: float) -> list[TrackEvent]:
        """One frame of the part will never have a verdict (dropped, inference error, no frame)."""
        part = self._parts.get(part_id)
        if part is None:
            return []
        part.lost.append(reason)
        return self._resolve(part, now) if part.complete() else []

    def _resolve(self, part: _Part, now: float) -> list[TrackEvent]:
        pid = part.event.part_id
        del self._parts[pid]
        signal = part.signal
        if now > part.due + self.window_s:  # its deadline passed before the expiry was handled: as if it had
            why = "; ".join(part.lost) or f"no verdict by {self.window_s * 1000:.0f} ms after the ejector"
            out = [TrackEvent("missed", pid, None, why)]
            if signal is not None and signal.verdict in self.fires:
                late_ms = (now - part.due) * 1000
                out.append(
                    TrackEvent("late", pid, signal, f"verdict {late_ms:.0f} ms after the part was there")
                )
            return out
        if part.lost and (signal is None or signal.verdict is not Verdict.FAIL):
            return self._missed(part, now, "; ".join(part.lost))
        assert signal is not None
        if signal.verdict not in self.fires:
            return []
        return self._schedule(part, signal, now)

    def _schedule(self, part: _Part, signal: RejectSignal, now: float) -> list[TrackEvent]:
        pid = part.event.part_id
        if part.due <= now:
            return [TrackEvent("fire", pid, signal)]
        self._push(part.due, pid, signal, part.due + self.window_s)
        return []

    def _missed(self, part: _Part, now: float, why: str) -> list[TrackEvent]:
        pid = part.event.part_id
        out = [TrackEvent("missed", pid, None, why)]
        if self.fail_safe:
            out += self._schedule(part, self._fail_safe_signal(part), now)
        return out

    def _fail_safe_signal(self, part: _Part) -> RejectSignal:
        ev = part.event
        return RejectSignal(
            Verdict.FAIL,
            part.signal.frame_id if part.signal else "",
            ev.part_id,
            self.line_id,
            self.station_id,
            (MISSED_CLASS,),
            ev.at,
            ev.at_mono,
            part.signal.outcome_event_id if part.signal else "",
        )

    def _after_gone(self, part_id: str, signal: RejectSignal, now: float) -> list[TrackEvent]:
        gone = self._gone.pop(part_id, None)
        if gone is None or signal.verdict not in self.fires:
            return []  # unknown part (not triggered here) or a verdict that fires nothing
        why, deadline = gone
        if now <= deadline:
            return []  # still in reach: the fail-safe reject fired for it at the ejector
        return [TrackEvent("late", part_id, signal, f"verdict after the part was given up ({why})")]

    def due(self, now: float) -> list[TrackEvent]:
        """Everything whose time has come: signals to fire (late when past their deadline), expiries."""
        out: list[TrackEvent] = []
        while self._heap and self._heap[0][0] <= now:
            _at, _seq, pid, signal, deadline = heapq.heappop(self._heap)
            if signal is not None:
                if now > deadline:  # this thread ran too late: the part has passed
                    why = f"fired {(now - deadline) * 1000:.1f} ms after the part's window"
                    out.append(TrackEvent("late", pid, signal, why))
                else:
                    out.append(TrackEvent("fire", pid, signal))
                continue
            part = self._parts.pop(pid, None)
            if part is not None:
                out += self._expire(part, now, deadline)
        return out

    def _expire(self, part: _Part, now: float, deadline: float) -> list[TrackEvent]:
        pid = part.event.part_id
        in_reach = now <= deadline  # else this thread ran too late to fire anything for it
        if part.signal is not None and part.signal.verdict is Verdict.FAIL and Verdict.FAIL in self.fires:
            # a camera failed it: the others cannot pass it
            return [TrackEvent("fire" if in_reach else "late", pid, part.signal, "expired with a FAIL")]
        at = "at the ejector" if self.fail_safe else f"{self.window_s * 1000:.0f} ms after the ejector"
        why = f"no verdict {at}"
        self._gone[pid] = (why, deadline)
        while len(self._gone) > self._remember:
            self._gone.popitem(last=False)
        out = [TrackEvent("missed", pid, None, why)]
        if self.fail_safe and in_reach:
            out.append(TrackEvent("fire", pid, self._fail_safe_signal(part)))
        return out
