"""Frame by frame, the champion's decision beside the shadow's: an agent running a shadow model publishes two
outcomes of each frame it samples, the serving one (``shadow=False``, the champion's model) and the shadow's
(``shadow=True``, the challenger's model), with the same agent id and frame id. :class:`ShadowJoin` pairs them
and :class:`ShadowTally` counts how the pairs differ.

Directions are about the reject the line acts on (a FAIL; an UNCERTAIN goes to review, not to the ejector):
*missed*: the champion fails the frame, the shadow does not (the challenger would let it pass: a possible
escape); *extra*: the shadow fails it, the champion does not (a class the challenger learned, or a false
reject). PASS against UNCERTAIN differs without either rejecting: counted in the disagreement only.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TypeVar

from factoryloop.schemas import Outcome, Verdict

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Judged:
    """One model's decision on one frame."""

    verdict: Verdict
    classes: frozenset[str]

    @classmethod
    def of(cls, outcome: Outcome) -> Judged:
        return cls(outcome.verdict, frozenset(d.class_name for d in outcome.detections))


@dataclass(frozen=True, slots=True)
class Compared:
    """The champion's and the shadow's decisions on the same frame."""

    champion: Judged
    shadow: Judged

    @property
    def disagree(self) -> bool:
        return self.champion.verdict is not self.shadow.verdict

    @property
    def missed(self) -> bool:
        return self.champion.verdict is Verdict.FAIL and self.shadow.verdict is not Verdict.FAIL

    @property
    def extra(self) -> bool:
        return self.shadow.verdict is Verdict.FAIL and self.champion.verdict is not Verdict.FAIL


def _rate(n: int, of: int) -> float:
    return round(n / of, 4) if of else 0.0


@dataclass
class ShadowTally:
    """Counts over the compared frames (the join's output), and the rates a shadow stage is judged on."""

    frames: int = 0
    disagree: int = 0
    missed: int = 0  # champion FAIL, shadow not FAIL
    extra: int = 0  # shadow FAIL, champion not FAIL
    champion_fails: int = 0
    classes_differ: int = 0  # frames whose detected class sets differ
    shadow_only: Counter[str] = field(default_factory=Counter)  # class -> frames only the shadow found it on
    champion_only: Counter[str] = field(default_factory=Counter)

    def add(self, c: Compared) -> None:
        self.frames += 1
        self.disagree += c.disagree
        self.missed += c.missed
        self.extra += c.extra
        self.champion_fails += c.champion.verdict is Verdict.FAIL
        self.classes_differ += c.champion.classes != c.shadow.classes
        self.shadow_only.update(c.shadow.classes - c.champion.classes)
        self.champion_only.update(c.champion.classes - c.shadow.classes)

    @property
    def disagreement(self) -> float:
        """Share of the compared frames whose verdicts differ."""
        return _rate(self.disagree, self.frames)

    @property
    def missed_rate(self) -> float:
        """Share of the champion's FAIL frames the shadow does not fail (0 when the champion failed none)."""
        return _rate(self.missed, self.champion_fails)

    def evidence(self) -> dict[str, float]:
        ev = {
            "shadow_frames": float(self.frames),
            "shadow_disagreement": self.disagreement,
            "shadow_fail_champion_pass": float(self.extra),  # extra rejects
            "shadow_pass_champion_fail": float(self.missed),  # missed: the bounded direction
            "shadow_extra_reject_rate": _rate(self.extra, self.frames),
            "shadow_missed_rate": self.missed_rate,
            "champion_fail_frames": float(self.champion_fails),
            "shadow_class_disagreement": _rate(self.classes_differ, self.frames),
        }
        ev |= {f"shadow_only_class.{k}": float(n) for k, n in sorted(self.shadow_only.items())}
        ev |= {f"champion_only_class.{k}": float(n) for k, n in sorted(self.champion_only.items())}
        return ev


class ShadowJoin:
    """Pairs the serving and the shadow outcome of one frame (same agent id and frame id), in either order.

    A half waits for its partner among the newest ``max_pending`` halves (the shadow samples frames and drops
    some when it falls behind: most serving halves never get one); a frame already compared is not compared
    again (a redelivered record)."""

    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self.tally = ShadowTally()
        self._pending: OrderedDict[tuple[str, str], tuple[bool, Judged]] = OrderedDict()
        self._done: OrderedDict[tuple[str, str], None] = OrderedDict()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, outcome: Outcome, *, shadow: bool) -> Compared | None:
        """Add one half (``shadow``: the challenger's); the comparison when it completes a frame."""
        key = (outcome.agent_id, outcome.frame_id)
        if key in self._done:
            return None
        half = Judged.of(outcome)
        waiting = self._pending.get(key)
        if waiting is None or waiting[0] is shadow:
            _keep(self._pending, key, (shadow, half), self.max_pending)
            return None
        del self._pending[key]
        _keep(self._done, key, None, self.max_pending)
        champion, challenger = (waiting[1], half) if shadow else (half, waiting[1])
        compared = Compared(champion, challenger)
        self.tally.add(compared)
        return compared


def _keep(d: OrderedDict[tuple[str, str], V], key: tuple[str, str], value: V, most: int) -> None:
    d[key] = value
    d.move_to_end(key)
    while len(d) > most:
        d.popitem(last=False)
