"""A rollout's durable state, in the MLflow registry: alias ``canary`` marks the version in flight and its
``rollout.*`` version tags hold the stage, the agents of every stage (the first ones shadow stages, at the
sample rates of ``rollout.shadow_rates``), the version to go back to and who asked.

A restarted trainer (kill -9 included) reads it back (:meth:`RolloutLedger.in_flight`) and resumes the stage's
window; when the rollout ends the alias goes and ``rollout.decision`` / ``rollout.reason`` /
``rollout.evidence`` stay on the version: its history, where ``factoryloop train status`` and the API read it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from factoryloop.schemas import FLEET_KEY, RolloutState
from training.errors import RolloutError, TrainingError
from training.registry.models import CANARY, CHAMPION, ModelRegistry, RegisteredVersion
from training.rollout.journal import Unrecorded

logger = logging.getLogger(__name__)
ENDED = frozenset(s.value for s in (RolloutState.FULL, RolloutState.ROLLED_BACK, RolloutState.HALTED))


@dataclass(frozen=True)
class Rollout:
    rollout_id: str
    product: str
    version: RegisteredVersion
    previous: RegisteredVersion | None
    stages: tuple[tuple[str, ...], ...]  # the agents of each stage, cumulative; the last, () = every agent
    stage: int = 0
    target: str = FLEET_KEY
    request_id: str | None = None
    actor: str = "trainer"
    shadow_rates: tuple[float, ...] = ()  # the first len() stages are shadow stages, at these sample rates
    ended: RolloutState | None = None  # read back ended: its last deployment may not have gone out
    back_to: str | None = None  # ended rolled back: the version its rollback deployment serves (None: none)
    stage_started: str | None = None  # read back: when its stage was recorded (ISO, UTC)

    @property
    def shadow(self) -> bool:
        """The current stage runs the model in shadow beside the champion (nobody serves it)."""
        return self.stage < len(self.shadow_rates)

    @property
    def first_canary(self) -> int:
        """The index of the first stage that serves the model."""
        return len(self.shadow_rates)

    @property
    def last_stage(self) -> bool:
        return self.stage >= len(self.stages) - 1

    @property
    def agents(self) -> tuple[str, ...]:
        return self.stages[self.stage]

    def next_stage(self) -> Rollout:
        return replace(self, stage=self.stage + 1)


class RolloutLedger:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def save(self, r: Rollout, state: RolloutState, passed: dict[str, float] | None = None) -> None:
        """Record the rollout at its current stage (before its deployment is published); ``passed``: the
        evidence of the stage before (tag ``rollout.stage<N>.evidence``, N its index)."""
        kept = {f"rollout.stage{r.stage - 1}.evidence": json.dumps(passed)[:4000]} if passed else {}
        self.registry.tag(
            r.product,
            r.version.version,
            kept
            | {
                "rollout.id": r.rollout_id,
                "rollout.state": state.value,
                "rollout.stage": str(r.stage),
                "rollout.stages": json.dumps([list(s) for s in r.stages]),
                "rollout.shadow_rates": json.dumps(list(r.shadow_rates)),
                "rollout.previous": r.previous.version if r.previous else "",
                "rollout.target": r.target,
                "rollout.request_id": r.request_id or "",
                "rollout.actor": r.actor,
                "rollout.stage_started": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
        self.registry.set_alias(r.product, CANARY, r.version.version)

    def finish(
        self,
        r: Rollout,
        state: RolloutState,
        reason: str,
        evidence: dict[str, float],
        *,
        back_to: str | None = None,
        release: bool = True,
    ) -> None:
        """The rollout ended: decision and evidence on the version, ``champion`` moved, ``canary`` removed
        (``release``; else by :meth:`release` once its last deployment is acknowledged: until then a new
        leader reads it back as ended and sends that deployment again). ``back_to``: the version its
        rollback deployment serves."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.registry.tag(
            r.product, r.version.version, _ended(r.rollout_id, state, reason, evidence, back_to, now)
        )
        if state is RolloutState.FULL:
            champion = self.registry.alias(r.product, CHAMPION)
            if champion is None or champion.version != r.version.version:
                self.registry.set_alias(r.product, CHAMPION, r.version.version)
            if r.previous is not None and r.previous.version != r.version.version:
                self.registry.tag(r.product, r.version.version, {"previous_champion": r.previous.version})
        elif state is RolloutState.ROLLED_BACK and r.previous is not None:
            self.registry.set_alias(r.product, CHAMPION, r.previous.version)
        if release:
            self.release(r)

    def release(self, r: Rollout) -> None:
        """Remove alias ``canary`` (when it still marks this rollout's version): nothing left in flight."""
        self._release(r.product, r.version.version)

    def _release(self, product: str, version: str) -> None:
        canary = self.registry.alias(product, CANARY)
        if canary is not None and canary.version == version:
            self.registry.delete_alias(product, CANARY)

    def finish_late(self, u: Unrecorded) -> None:
        """A rollback sent (and acknowledged) while MLflow did not answer (the journal's, or one read back
        from the deployments topic): recorded as :meth:`finish` records one, at the time it was carried out;
        ``champion`` on the version it went back to, ``canary`` removed."""
        late = {"rollout.recorded_late": datetime.now(UTC).isoformat(timespec="seconds")}
        state = RolloutState.ROLLED_BACK
        tags = _ended(u.rollout_id, state, u.reason, u.evidence, u.back_to, u.ended) | late
        self.registry.tag(u.product, u.version, tags)
        if u.back_to:
            champion = self.registry.alias(u.product, CHAMPION)
            if champion is None or champion.version != u.back_to:
                self.registry.set_alias(u.product, CHAMPION, u.back_to)
        self._release(u.product, u.version)

    def in_flight(self, product: str) -> Rollout | None:
        """The product's rollout a previous trainer left in flight (``ended`` set when it ended but its last
        deployment may not have gone out), or None."""
        version = self.registry.alias(product, CANARY)
        if version is None:
            return None
        t = version.tags
        try:
            stages = tuple(tuple(s) for s in json.loads(t["rollout.stages"]))
            rates = tuple(float(x) for x in json.loads(t.get("rollout.shadow_rates") or "[]"))
            back = t.get("rollout.previous")
            previous = self.registry.get(product, back) if back else None
            return Rollout(
                rollout_id=t["rollout.id"],
                product=product,
                version=version,
                previous=previous,
                stages=stages,
                stage=min(int(t["rollout.stage"]), len(stages) - 1),
                target=t.get("rollout.target") or FLEET_KEY,
                request_id=t.get("rollout.request_id") or None,
                actor=t.get("rollout.actor") or "trainer",
                shadow_rates=rates,
                ended=RolloutState(t["rollout.state"]) if t.get("rollout.state") in ENDED else None,
                back_to=t.get("rollout.back_to") or None,
                stage_started=t.get("rollout.stage_started") or None,
            )
        except (KeyError, ValueError, TypeError, TrainingError) as exc:
            raise RolloutError(
                f"{self.registry.name(product)} v{version.version} carries alias {CANARY} but its rollout "
                f"tags are unreadable ({exc!r}); remove the alias (MLflow UI) or roll back with "
                f"`factoryloop train rollback {product}`"
            ) from exc


def _ended(
    rollout_id: str,
    state: RolloutState,
    reason: str,
    evidence: dict[str, float],
    back_to: str | None,
    ended: str,
) -> dict[str, str]:
    """The tags of a rollout that ended."""
    return {
        "rollout.id": rollout_id,
        "rollout.state": state.value,
        "rollout.decision": state.value,
        "rollout.reason": reason[:4000],
        "rollout.evidence": json.dumps(evidence)[:4000],
        "rollout.back_to": back_to or "",
        "rollout.ended": ended,
    }
