"""A line PC's camera from its unit: factoryloop-agent@cam1 runs ExecStartPre (validate-config) and ExecStart
(agent run) with the example env files and the line YAML derived from deploy/examples/line.yaml.

Local changes only: a simulated camera that stops after 40 frames, a synthetic model that flags every frame,
a log sink instead of the example's PLC and MQTT addresses, the session broker, and the state dir under
tmp_path. The YAML leaves ``buffer.dir`` unset, so the buffer lands in the instance's own state dir.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from factoryloop.schemas import Outcome
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.deploy.units import SYSTEMD, unit
from tests.integration.edge_agent.support import read_topic
from tests.support.edge_onnx import fail_model

pytestmark = pytest.mark.kafka
EXAMPLE = SYSTEMD.parent / "examples" / "line.yaml"
FRAMES = 40


def test_agent_instance_from_its_unit(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    line = yaml.safe_load(EXAMPLE.read_text())
    assert "dir" not in line["buffer"], "the example must leave buffer.dir to the instance's state dir"
    line["source"] = {"type": "simulated", "fps": 0, "seed": 3, "max_frames": FRAMES}
    line["detector"] = {"onnx": str(fail_model(tmp_path / "fail.onnx")), "threads": 1}
    line["rules"] = {"default": line["rules"]["default"]}  # the example's classes are not this model's
    line["sinks"] = [{"type": "log", "verdicts": ["FAIL"]}]
    line["kafka"] |= {
        "bootstrap_servers": kafka_settings.bootstrap_servers,
        "topic_prefix": kafka_settings.topic_prefix,
    }
    line["metrics_port"] = None
    config = tmp_path / "lines" / "cam1.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(line))

    pre, start, env = unit("factoryloop-agent@.service", "cam1")
    assert env["FACTORYLOOP_AGENT_STATE_DIR"] == "/var/lib/factoryloop/agent-cam1"
    state = tmp_path / "agent-cam1"
    env |= {"FACTORYLOOP_AGENT_STATE_DIR": str(state), "FACTORYLOOP_HOME": str(tmp_path / "home")}
    env |= {"FACTORYLOOP_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers}

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        argv = [str(config) if a == "/etc/factoryloop/lines/cam1.yaml" else a for a in argv]
        return subprocess.run(
            argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=180, check=False
        )

    for argv in pre:
        checked = run(argv)
        assert checked.returncode == 0 and "OK" in checked.stdout, checked.stdout + checked.stderr
    ran = run(start)
    assert ran.returncode == 0, ran.stderr[-3000:]
    outcomes = [
        o for o in read_topic(kafka_settings, TopicRole.OUTCOMES, until=FRAMES) if isinstance(o, Outcome)
    ]
    assert len({o.event_id for o in outcomes}) == FRAMES
    assert {o.agent_id for o in outcomes} == {line["agent_id"]}
    assert (state / "buffer").is_dir()  # per camera, from the unit's FACTORYLOOP_AGENT_STATE_DIR
