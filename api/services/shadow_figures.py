"""A shadow stage's figures so far, read from the evidence the rollout controller reports while it runs
(``progress`` events): frames joined, disagreement and missed rate, each beside the limit it is judged against
(``limit.<judge field>`` in the evidence; training/rollout/shadow.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ShadowFiguresOut(BaseModel):
    """A shadow stage's figures so far against the policy's limits (from the controller's latest report)."""

    frames: int = Field(description="Frames judged by both the champion and the shadow (joined).")
    min_frames: int | None = Field(description="Frames needed before the rates count (min_shadow_frames).")
    disagreement: float = Field(description="Share of the joined frames whose verdicts differ.")
    max_disagreement: float | None = Field(description="The limit; null: not judged.")
    missed_rate: float = Field(description="Share of the champion's FAIL frames the shadow would pass.")
    max_missed_rate: float | None = Field(description="The limit; null: not judged.")
    missed: int = Field(description="Frames the champion fails and the shadow passes.")
    champion_fails: int
    extra: int = Field(description="Frames the shadow fails and the champion passes.")
    agents_shadowing: int
    agents: int

    @property
    def judged(self) -> bool:
        return self.min_frames is None or self.frames >= self.min_frames


def shadow_figures(evidence: dict[str, float]) -> ShadowFiguresOut | None:
    """The figures of a shadow stage's evidence (None when it is not a shadow stage's)."""
    if "shadow_frames" not in evidence:
        return None

    def limit(key: str) -> float | None:
        return evidence.get(f"limit.{key}")

    min_frames = limit("min_shadow_frames")
    return ShadowFiguresOut(
        frames=int(evidence["shadow_frames"]),
        min_frames=int(min_frames) if min_frames is not None else None,
        disagreement=evidence.get("shadow_disagreement", 0.0),
        max_disagreement=limit("max_disagreement"),
        missed_rate=evidence.get("shadow_missed_rate", 0.0),
        max_missed_rate=limit("max_missed_rate"),
        missed=int(evidence.get("shadow_pass_champion_fail", 0)),
        champion_fails=int(evidence.get("champion_fail_frames", 0)),
        extra=int(evidence.get("shadow_fail_champion_pass", 0)),
        agents_shadowing=int(evidence.get("agents_shadowing", 0)),
        agents=int(evidence.get("agents", 0)),
    )
