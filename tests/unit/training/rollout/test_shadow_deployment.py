"""A shadow stage's deployment: the challenger in shadow on the stage's agents only, at its sample rate."""

from __future__ import annotations

import json

import pytest

from factoryloop.schemas import Strategy
from factoryloop.signing import sign, verify
from training.registry.models import RegisteredVersion
from training.rollout.publish import deployment_for

VERSION = RegisteredVersion(
    name="p-steel",
    version="4",
    run_id="r",
    source="mlflow-artifacts:/1/r/artifacts/model",
    tags={"onnx_sha256": "a" * 64, "class_names": json.dumps(["dent"]), "imgsz": "160", "product": "steel"},
)


@pytest.mark.parametrize(
    ("agents", "agent", "line", "applies"),
    [
        (("agent-1",), "agent-1", "line-1", True),
        (("agent-1",), "agent-2", "line-1", False),  # the champion alone on the other agents
        ((), "agent-2", "line-1", True),  # a shadow naming nobody: every agent of the target
    ],
)
def test_a_shadow_naming_agents_is_for_them_only(
    agents: tuple[str, ...], agent: str, line: str, applies: bool
) -> None:
    dep = deployment_for(VERSION, strategy=Strategy.SHADOW, canary_agents=agents, shadow_sample_rate=0.5)
    assert dep.shadow_sample_rate == 0.5
    assert dep.applies_to(agent, line) is applies


def test_the_shadow_agents_and_rate_are_signed() -> None:
    dep = sign(
        deployment_for(VERSION, strategy=Strategy.SHADOW, canary_agents=("a",), shadow_sample_rate=1.0), "k"
    )
    verify(dep, "k", required=True)
    for changed in ({"canary_agents": ("a", "b")}, {"shadow_sample_rate": 0.5}):
        with pytest.raises(Exception, match="signature"):
            verify(dep.model_copy(update=changed), "k", required=True)
