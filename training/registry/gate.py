"""The promotion gate: challenger vs champion on the same frozen golden set, and on recent reviewed data.

Both models are evaluated on the golden set (frozen once, never trained on) and, when there is one, on the
*recent* set: reviewed images held out of training (the ``val`` split of the new dataset version, golden
images excluded) — this is where a new defect class or a drift shows. Promote only when

- the challenger's score (mAP50-95 by default) beats the champion's by ``margin`` on the recent set (on the
  golden set when there is no recent set), and
- on the golden set it scores no worse than the champion's minus ``golden_tolerance`` and no class's recall
  drops by more than ``max_recall_drop``.

With no champion yet, the challenger is promoted if its golden score is above ``min_score``. The decision and
its numbers become tags of the challenger's version.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import GateError
from training.registry.models import CHALLENGER, CHAMPION, ModelRegistry, RegisteredVersion
from training.yolo.evaluate import EvalResult, evaluate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatePolicy:
    margin: float = 0.01
    max_recall_drop: float = 0.05
    metric: str = "mAP50-95"
    min_score: float = 0.0
    golden_tolerance: float = 0.02


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    challenger: EvalResult
    champion: EvalResult | None
    recall_drops: dict[str, float] = field(default_factory=dict)
    challenger_recent: EvalResult | None = None
    champion_recent: EvalResult | None = None

    def as_tags(self) -> dict[str, str]:
        tags = {"gate.decision": "promote" if self.promote else "refuse", "gate.reason": self.reason[:4000]}
        tags.update(self.challenger.as_tags("gate.challenger"))
        if self.champion is not None:
            tags.update(self.champion.as_tags("gate.champion"))
        if self.challenger_recent is not None:
            tags.update(self.challenger_recent.as_tags("gate.recent.challenger"))
        if self.champion_recent is not None:
            tags.update(self.champion_recent.as_tags("gate.recent.champion"))
        return tags


def decide(
    challenger: EvalResult,
    champion: EvalResult | None,
    policy: GatePolicy,
    *,
    challenger_recent: EvalResult | None = None,
    champion_recent: EvalResult | None = None,
) -> GateDecision:
    """The gate's rule, on evaluations of the same golden set (and the same recent set, if any)."""
    score = challenger.metrics[policy.metric]
    if champion is None:
        ok = score > policy.min_score
        cmp = ">" if ok else "<="
        why = f"no champion yet; challenger {policy.metric} {score:.4f} {cmp} {policy.min_score}"
        return GateDecision(
            ok, why, challenger, None, challenger_recent=challenger_recent, champion_recent=champion_recent
        )
    base = champion.metrics[policy.metric]
    drops = {
        name: champ.recall - challenger.per_class[name].recall
        if name in challenger.per_class
        else champ.recall
        for name, champ in champion.per_class.items()
    }
    worst = {n: d for n, d in drops.items() if d > policy.max_recall_drop}

    def refuse(why: str) -> GateDecision:
        return GateDecision(False, why, challenger, champion, drops, challenger_recent, champion_recent)

    if challenger_recent is not None and champion_recent is not None:
        new, old = challenger_recent.metrics[policy.metric], champion_recent.metrics[policy.metric]
        if new < old + policy.margin:
            return refuse(
                f"on recent reviewed data challenger {policy.metric} {new:.4f} does not beat "
                f"champion {old:.4f} by {policy.margin}"
            )
        if score < base - policy.golden_tolerance:
            return refuse(
                f"on the golden set challenger {policy.metric} {score:.4f} falls below champion {base:.4f} "
                f"by more than {policy.golden_tolerance}"
            )
        gain = f"recent {policy.metric} {new:.4f} vs {old:.4f}, golden {score:.4f} vs {base:.4f}"
    elif score < base + policy.margin:
        return refuse(
            f"challenger {policy.metric} {score:.4f} does not beat champion {base:.4f} by {policy.margin}"
        )
    else:
        gain = f"challenger {policy.metric} {score:.4f} beats champion {base:.4f} by >= {policy.margin}"
    if worst:
        listed = ", ".join(f"{n} -{d:.3f}" for n, d in sorted(worst.items()))
        return refuse(f"golden-set recall drops beyond {policy.max_recall_drop}: {listed}")
    return GateDecision(True, gain, challenger, champion, drops, challenger_recent, champion_recent)


def _evaluate(
    registry: ModelRegistry, version: RegisteredVersion, golden_yaml: Path, device: str | None
) -> EvalResult:
    with tempfile.TemporaryDirectory(prefix="fl-gate-") as tmp:
        folder = registry.download(version, Path(tmp))
        imgsz = version.imgsz or 320
        return evaluate(folder / "model.pt", golden_yaml, imgsz=imgsz, device=device)


def run_gate(
    registry: ModelRegistry,
    product: str,
    golden_yaml: Path,
    policy: GatePolicy,
    *,
    challenger: RegisteredVersion | None = None,
    device: str | None = None,
    recent_yaml: Path | None = None,
) -> GateDecision:
    """Evaluate challenger (default: alias ``challenger``) and champion; tag the decision; move aliases.

    ``recent_yaml``: a YOLO dataset whose ``val`` split holds recent reviewed images never trained on.
    """
    challenger = challenger or registry.alias(product, CHALLENGER)
    if challenger is None:
        raise GateError(f"{registry.name(product)} has no challenger to gate; retrain first")
    champion = registry.alias(product, CHAMPION)
    if champion is not None and champion.version == challenger.version:
        raise GateError(f"version {challenger.version} of {registry.name(product)} is already the champion")
    recent: dict[str, EvalResult] = {}
    if recent_yaml is not None and champion is not None:
        recent["challenger_recent"] = _evaluate(registry, challenger, recent_yaml, device)
        recent["champion_recent"] = _evaluate(registry, champion, recent_yaml, device)
    decision = decide(
        _evaluate(registry, challenger, golden_yaml, device),
        None if champion is None else _evaluate(registry, champion, golden_yaml, device),
        policy,
        **recent,
    )
    tags = decision.as_tags()
    tags["gate.champion_version"] = champion.version if champion else "none"
    registry.tag(product, challenger.version, tags)
    if decision.promote:
        registry.set_alias(product, CHAMPION, challenger.version)
        if champion is not None:
            registry.tag(product, challenger.version, {"previous_champion": champion.version})
    logger.info("gate %s v%s: %s", registry.name(product), challenger.version, decision.reason)
    return decision
