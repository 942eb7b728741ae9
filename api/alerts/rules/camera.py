"""``camera``: a camera that is disconnected, out of focus (blur), frozen or dark, as the agent's heartbeat
reports its health (``camera.connected``, ``camera.blur_score``, ``camera.frozen``, ``camera.brightness``).
One subject per agent and problem (``agent:a1:blur``), so each problem fires and resolves on its own."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from api.alerts.rules.base import Facts, Finding, Rule, RuleConfigBase, agent_finding, fresh, in_scope

Check = Literal["disconnected", "blur", "frozen", "dark"]


class CameraConfig(RuleConfigBase):
    type: Literal["camera"] = "camera"
    checks: tuple[Check, ...] = Field(default=("disconnected", "blur", "frozen", "dark"), min_length=1)
    min_blur_score: float = Field(
        default=50.0, ge=0, description="Blur: the variance of the Laplacian is below this."
    )
    min_brightness: float = Field(default=25.0, ge=0, le=255, description="Dark: mean grey level below this.")
    max_age_s: float = Field(
        default=120.0, gt=0, description="Only heartbeats this recent are judged (older: agent_offline's)."
    )


def problems(camera: Mapping[str, Any], config: CameraConfig) -> dict[str, str]:
    """Each failed check of one heartbeat's camera health, with what was seen."""
    found: dict[str, str] = {}
    if "disconnected" in config.checks and not camera.get("connected", True):
        found["disconnected"] = "the camera is disconnected"
    blur = camera.get("blur_score")
    if "blur" in config.checks and blur is not None and float(blur) < config.min_blur_score:
        found["blur"] = f"the image is blurred (blur score {float(blur):.1f} < {config.min_blur_score:g})"
    if "frozen" in config.checks and camera.get("frozen"):
        found["frozen"] = "the image is frozen (the last frames were identical)"
    light = camera.get("brightness")
    if "dark" in config.checks and light is not None and float(light) < config.min_brightness:
        found["dark"] = f"the image is dark (brightness {float(light):.1f} < {config.min_brightness:g})"
    return found


class CameraRule(Rule):
    config: CameraConfig

    def __init__(self, config: CameraConfig) -> None:
        self.config = config

    def evaluate(self, facts: Facts, now: datetime) -> list[Finding]:
        out = []
        for agent in in_scope(self.config.scope, facts.agents()):
            if not fresh(agent, now, self.config.max_age_s):
                continue
            camera = agent.heartbeat.get("camera") or {}
            for check, what in problems(camera, self.config).items():
                evidence = {k: camera.get(k) for k in ("connected", "blur_score", "frozen", "brightness")}
                evidence |= {"check": check, "heartbeat_ts": agent.last_seen.isoformat()}
                out.append(
                    agent_finding(
                        agent,
                        f"agent:{agent.agent_id}:{check}",
                        f"camera of {agent.agent_id} ({agent.line_id}/{agent.station_id}): {what}",
                        evidence,
                    )
                )
        return out
