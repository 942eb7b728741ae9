"""The promotion gate: challenger vs champion on the same frozen golden set.

Promote only when the challenger's score (mAP50-95 by default) beats the champion's by ``margin`` and no
class's recall drops by more than ``max_recall_drop``. With no champion yet, the challenger is promoted if
its score is above ``min_score``. The decision and its numbers become tags of the challenger's version.
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


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    challenger: EvalResult
    champion: EvalResult | None
    recall_drops: dict[str, float] = field(default_factory=dict)

    def as_tags(self) -> dict[str, str]:
        tags = {"gate.decision": "promote" if self.promote else "refuse", "gate.reason": self.reason[:4000]}
        tags.update(self.challenger.as_tags("gate.challenger"))
        if self.champion is not None:
            tags.update(self.champion.as_tags("gate.champion"))
        return tags


def decide(challenger: EvalResult, champion: EvalResult | None, policy: GatePolicy) -> GateDecision:
    """The gate's rule, on two evaluations of the same golden set."""
    score = challenger.metrics[policy.metric]
    if champion is None:
        ok = score > policy.min_score
        cmp = ">" if ok else "<="
        why = f"no champion yet; challenger {policy.metric} {score:.4f} {cmp} {policy.min_score}"
        return GateDecision(ok, why, challenger, None)
    base = champion.metrics[policy.metric]
    drops = {
        name: champ.recall - challenger.per_class[name].recall
        if name in challenger.per_class
        else champ.recall
        for name, champ in champion.per_class.items()
    }
    worst = {n: d for n, d in drops.items() if d > policy.max_recall_drop}
    if score < base + policy.margin:
        why = f"challenger {policy.metric} {score:.4f} does not beat champion {base:.4f} by {policy.margin}"
        return GateDecision(False, why, challenger, champion, drops)
    if worst:
        listed = ", ".join(f"{n} -{d:.3f}" for n, d in sorted(worst.items()))
        why = f"recall drops beyond {policy.max_recall_drop}: {listed}"
        return GateDecision(False, why, challenger, champion, drops)
    why = f"challenger {policy.metric} {score:.4f} beats champion {base:.4f} by >= {policy.margin}"
    return GateDecision(True, why, challenger, champion, drops)


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
) -> GateDecision:
    """Evaluate challenger (default: alias ``challenger``) and champion; tag the decision; move aliases."""
    challenger = challenger or registry.alias(product, CHALLENGER)
    if challenger is None:
        raise GateError(f"{registry.name(product)} has no challenger to gate; retrain first")
    champion = registry.alias(product, CHAMPION)
    if champion is not None and champion.version == challenger.version:
        raise GateError(f"version {challenger.version} of {registry.name(product)} is already the champion")
    decision = decide(
        _evaluate(registry, challenger, golden_yaml, device),
        None if champion is None else _evaluate(registry, champion, golden_yaml, device),
        policy,
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
