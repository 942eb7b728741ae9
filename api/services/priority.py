"""Review priority: how much a supervisor's review of a frame is expected to teach the model.

Pure functions, shared by the sink (which computes and stores the priority of each queued inspection at write
time) and the routes. Three components, each in [0, 1]:

* **uncertainty**: of the most uncertain detection, ``1 - |conf - t| / t`` below the class's rule threshold
  ``t`` and ``1 - (conf - t) / (1 - t)`` above it (1 at the threshold, 0 at confidence 0 or 1; ``t`` = 0.5
  gives ``1 - |conf - 0.5| * 2``); an UNCERTAIN verdict scores at least 0.5;
* **rarity**: of the rarest class among the frame's detections, ``K / (K + n)`` with ``n`` its detections on
  the same line and product in the last :data:`RARE_WINDOW_DAYS` days before this frame (``K`` =
  :data:`RARE_HALF`: a class never seen scores 1, one seen ``K`` times 0.5, one seen 100 times 0.09);
* **disagreement**: 1 when a shadow model ran on the frame and found another set of classes, 0.5 when it found
  the same classes but reached another verdict, else 0.

``priority = 0.40 uncertainty + 0.35 rarity + 0.25 disagreement``; the queue orders by ``rank = priority +
0.02 * days since 1970 of the inspection time`` (a small recency term: a frame one day newer gains 0.02, so
a week-old frame needs 0.14 more priority to come first). The rank only grows with time, so it is stored and
indexed; ordering by it equals ordering by a priority that decays with age.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

W_UNCERTAIN = 0.40
W_RARE = 0.35
W_DISAGREE = 0.25
RECENCY_PER_DAY = 0.02
RARE_HALF = 10
RARE_WINDOW_DAYS = 7
UNCERTAIN_VERDICT = 0.5  # the least uncertainty of an UNCERTAIN verdict
DEFAULT_THRESHOLD = 0.5  # a class without a threshold in the outcome
SHOWN = 0.5  # a component this high (or higher) is named in the reason
REASON_MAX = 255
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# What a review was offered for (the largest weighted component; ``sampled`` when none).
OFFERED_FOR = ("uncertain", "rare_class", "disagreement", "sampled")


@dataclass(frozen=True, slots=True)
class Components:
    uncertainty: float = 0.0
    rarity: float = 0.0
    disagreement: float = 0.0

    @property
    def priority(self) -> float:
        return W_UNCERTAIN * self.uncertainty + W_RARE * self.rarity + W_DISAGREE * self.disagreement

    @property
    def offered_for(self) -> str:
        weighted = (
            (W_UNCERTAIN * self.uncertainty, "uncertain"),
            (W_RARE * self.rarity, "rare_class"),
            (W_DISAGREE * self.disagreement, "disagreement"),
        )
        best, name = max(weighted, key=lambda p: p[0])
        return name if best > 0 else "sampled"


def detection_uncertainty(confidence: float, threshold: float) -> float:
    """1 at the threshold, falling linearly to 0 at confidence 0 (below) or 1 (above)."""
    t = min(max(threshold, 0.0), 1.0)
    if confidence >= t:
        span = 1.0 - t
        return 1.0 if span <= 0 else max(0.0, 1.0 - (confidence - t) / span)
    return 1.0 if t <= 0 else max(0.0, 1.0 - (t - confidence) / t)


def uncertainty(
    verdict: str, detections: Iterable[tuple[str, float]], thresholds: Mapping[str, float]
) -> tuple[float, str | None]:
    """The frame's uncertainty (its most uncertain detection; an UNCERTAIN verdict at least 0.5) and the
    reason part ("uncertain scratch 0.48"), None when below :data:`SHOWN`."""
    best, part = 0.0, None
    for name, conf in detections:
        u = detection_uncertainty(conf, thresholds.get(name, DEFAULT_THRESHOLD))
        if part is None or u > best:
            best, part = u, f"uncertain {name} {conf:.2f}"
    if verdict == "UNCERTAIN" and best < UNCERTAIN_VERDICT:
        best, part = UNCERTAIN_VERDICT, part or "verdict UNCERTAIN"
    return best, part if best >= SHOWN else None


def class_rarity(n: int) -> float:
    """``K / (K + n)`` of a class seen ``n`` times in the window."""
    return RARE_HALF / (RARE_HALF + max(n, 0))


def rarity(counts: Mapping[str, int]) -> tuple[float, str | None]:
    """The rarest of the frame's classes (``counts``: detections of each in the window before this frame)
    and the reason part ("rare class crack (3 in 7 days)", "new class crack (first in 7 days)")."""
    if not counts:
        return 0.0, None
    name, n = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    r = class_rarity(n)
    if r < SHOWN:
        return r, None
    if n == 0:
        return r, f"new class {name} (first in {RARE_WINDOW_DAYS} days)"
    return r, f"rare class {name} ({n} in {RARE_WINDOW_DAYS} days)"


def _names(classes: Iterable[str]) -> str:
    return ", ".join(sorted(set(classes))) or "none"


def disagreement(
    champion: tuple[str, Iterable[str]], shadow: tuple[str, Iterable[str]]
) -> tuple[float, str | None]:
    """Champion vs shadow as ``(verdict, class names)``: 1 when the class sets differ, 0.5 when only the
    verdicts do."""
    (cv, cc), (sv, sc) = champion, shadow
    cset, sset = set(cc), set(sc)
    if cset != sset:
        return 1.0, f"shadow disagrees: model {_names(cset)}, shadow {_names(sset)}"
    if cv != sv:
        return 0.5, f"shadow verdict {sv} vs {cv}"
    return 0.0, None


def recency_days(ts: datetime) -> float:
    return (ts - EPOCH).total_seconds() / 86400.0


def rank(priority: float, ts: datetime) -> float:
    """The queue's sort key: the priority plus :data:`RECENCY_PER_DAY` per day of the inspection time."""
    return priority + RECENCY_PER_DAY * recency_days(ts)


def join_reason(parts: Sequence[str | None]) -> str:
    """The stored reason: the named components, "; "-separated ("" when none stands out)."""
    return "; ".join(p for p in parts if p)[:REASON_MAX]


def shown_reason(reason: str | None, verdict: str, sample_reason: str | None) -> str:
    """Why a frame is offered, as the queue shows it: the stored reason, else why it was sampled."""
    if reason:
        return reason
    if sample_reason:
        return f"sampled ({sample_reason})"
    return f"verdict {verdict}"
