"""When an agent stops running a challenger in shadow (real tiny ONNX models through the real manager and
watcher): a later stage of the rollout that leaves it out (``ends_shadow``), an ``end_shadow``, or the
challenger becoming its model; anything else keeps the shadow, and what the agent serves never changes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_agent.models.watcher import DeploymentWatcher
from factoryloop.schemas import Deployment, Strategy
from factoryloop.settings import KafkaSettings
from tests.unit.edge_agent.test_compat import Manager

pytest.importorskip("onnx")
ME, OTHER = "agent-1", "agent-2"


def stage(m: Manager, version: str, strategy: Strategy, **update: Any) -> Deployment:
    dep = m.deployment(version, dep_product="steel_plate")
    fields: dict[str, Any] = {
        "deployment_id": uuid.uuid4().hex,
        "target": "fleet",
        "strategy": strategy,
        "canary_agents": (),
        **update,
    }
    if strategy is Strategy.SHADOW:
        fields.setdefault("shadow_sample_rate", 1.0)
    return Deployment(**(dep.model_dump() | fields))


@pytest.mark.parametrize(
    ("later", "shadow_left", "serving"),
    [
        ({"strategy": Strategy.CANARY, "canary_agents": (OTHER,), "ends_shadow": True}, False, "local"),
        ({"strategy": Strategy.CANARY, "canary_agents": (OTHER,)}, True, "local"),  # not said: kept
        ({"strategy": Strategy.SHADOW, "canary_agents": (OTHER,), "ends_shadow": True}, False, "local"),
        ({"strategy": Strategy.CANARY, "canary_agents": (ME,), "ends_shadow": True}, False, "3"),  # promoted
        ({"strategy": Strategy.END_SHADOW}, False, "local"),
        ({"strategy": Strategy.END_SHADOW, "canary_agents": (OTHER,)}, True, "local"),  # names another
        ({"strategy": Strategy.END_SHADOW, "sha256": "f" * 64}, True, "local"),  # another model's
        (
            {"strategy": Strategy.CANARY, "canary_agents": (OTHER,), "ends_shadow": True, "target": "line-2"},
            True,  # another line's rollout
            "local",
        ),
    ],
)
def test_a_later_deployment_ends_the_shadow_only_when_it_says_so(
    tmp_path: Path, later: dict[str, Any], shadow_left: bool, serving: str
) -> None:
    m = Manager(tmp_path, "steel_plate")
    watcher = DeploymentWatcher(KafkaSettings(), m.manager, ME, "line-1")
    watcher.handle([stage(m, "3", Strategy.SHADOW, canary_agents=(ME, OTHER))])
    assert m.manager.shadow is not None and m.manager.shadow.model.ref.version == "3"

    watcher.handle([stage(m, "3", later.pop("strategy"), **later)])
    assert (m.manager.shadow is not None) is shadow_left
    assert m.manager.current.ref.version == serving


def test_a_restarted_agent_replaying_the_topic_ends_up_without_the_shadow(tmp_path: Path) -> None:
    """The shadow stage and the canary that left this agent out, read in one poll (a restart)."""
    m = Manager(tmp_path, "steel_plate")
    watcher = DeploymentWatcher(KafkaSettings(), m.manager, ME, "line-1")
    shadow = stage(m, "3", Strategy.SHADOW, canary_agents=(ME, OTHER))
    canary = stage(m, "3", Strategy.CANARY, canary_agents=(OTHER,), ends_shadow=True)
    watcher.handle([shadow, canary])
    assert m.manager.shadow is None and m.manager.current.ref.version == "local"
    assert m.events[-1][1] == "shadow ended"
