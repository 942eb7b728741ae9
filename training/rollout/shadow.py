"""What a shadow stage is judged on: the challenger runs beside the champion on the stage's agents (a
``shadow`` deployment naming them), never acting; each frame both judged is compared (:class:`ShadowJoin`).

Fails at once (from ``min_shadow_frames`` compared frames): verdicts that differ on more than
``max_disagreement`` of the frames, or a challenger that does not fail more than ``max_missed_rate`` of the
frames the champion fails (it would let them pass). Also at once: an agent refusing the model. At the end of
the window: an agent that never ran it, or fewer than ``min_shadow_frames`` frames compared (no evidence is
not a pass). Frames the challenger fails and the champion passes are bounded by ``max_disagreement`` only: a
challenger that learned a new class is expected to disagree on exactly the frames of that class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factoryloop.schemas import AgentEvent, AgentEventType, Heartbeat, Outcome
from training.rollout.shadow_join import ShadowJoin
from training.rollout.watch import CanaryPolicy


@dataclass
class ShadowWatch:
    """Accumulates the comparison of ``model_version`` (in shadow on ``agents``) with what they serve."""

    agents: frozenset[str]
    model_version: str
    deployment_id: str
    policy: CanaryPolicy
    model_name: str | None = None
    join: ShadowJoin = field(default_factory=ShadowJoin)
    shadowing: set[str] = field(default_factory=set)  # agents seen running it (heartbeat or outcome)
    rejected: list[str] = field(default_factory=list)
    shadow_outcomes: int = 0

    def _ours(self, name: str) -> bool:
        return self.model_name in (None, name)

    def observe(self, event: object) -> None:
        if isinstance(event, Heartbeat) and event.agent_id in self.agents:
            m = event.shadow_model
            if m is not None and m.version == self.model_version and self._ours(m.name):
                self.shadowing.add(event.agent_id)
        elif isinstance(event, AgentEvent) and event.agent_id in self.agents:
            if event.type is AgentEventType.MODEL_REJECTED and event.deployment_id in (
                None,
                self.deployment_id,
            ):
                self.rejected.append(f"{event.agent_id}: {event.detail}")
        elif isinstance(event, Outcome) and event.agent_id in self.agents:
            # The serving half is whatever the agent serves (a registered champion, or the line's own first
            # model, named after its file): the frame id pairs it; only the shadow half must be the model.
            on_challenger = self._ours(event.model.name) and event.model.version == self.model_version
            if event.shadow and on_challenger:
                self.shadow_outcomes += 1
                self.shadowing.add(event.agent_id)
                self.join.add(event, shadow=True)
            elif not event.shadow and not on_challenger:
                self.join.add(event, shadow=False)

    def failures(self) -> list[str]:
        """Problems that end the shadow stage at once (the rates need ``min_shadow_frames`` frames)."""
        p, t = self.policy, self.join.tally
        out = [f"model rejected by {r}" for r in self.rejected]
        if t.frames < p.min_shadow_frames:
            return out
        if p.max_disagreement is not None and t.disagreement > p.max_disagreement:
            out.append(
                f"the shadow's verdict differs from the champion's on {t.disagree} of {t.frames} frames "
                f"({t.disagreement:.2f}, max {p.max_disagreement}): {t.extra} it fails and the champion "
                f"does not, {t.missed} the champion fails and it does not"
            )
        if p.max_missed_rate is not None and t.missed_rate > p.max_missed_rate:
            out.append(
                f"the shadow lets pass {t.missed} of the {t.champion_fails} frames the champion fails "
                f"({t.missed_rate:.2f}, max {p.max_missed_rate})"
            )
        return out

    def problems(self) -> list[str]:
        """Everything wrong at the end of the window."""
        p, out = self.policy, self.failures()
        missing = sorted(self.agents - self.shadowing)
        if missing:
            out.append(f"never reported running the shadow: {', '.join(missing)}")
        frames = self.join.tally.frames
        if frames < p.min_shadow_frames:
            out.append(
                f"only {frames} frames judged by both the champion and the shadow "
                f"(min {p.min_shadow_frames}): lengthen window_s or raise the stage's sample_rate"
            )
        return out

    def evidence(self) -> dict[str, float]:
        """The numbers behind the judgement (recorded in MLflow and on the rollout event), with the limits
        they are judged against (``limit.<judge field>``; a limit set to null is not judged: left out)."""
        p = self.policy
        limits = {
            "max_disagreement": p.max_disagreement,
            "max_missed_rate": p.max_missed_rate,
            "min_shadow_frames": float(p.min_shadow_frames),
        }
        return {
            "agents": float(len(self.agents)),
            "agents_shadowing": float(len(self.shadowing)),
            "shadow_outcomes": float(self.shadow_outcomes),
            "rejections": float(len(self.rejected)),
            **self.join.tally.evidence(),
            **{f"limit.{k}": v for k, v in limits.items() if v is not None},
        }
