"""The ``gige`` source of the line YAML, and the registry's answer when PyGObject or Aravis is missing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_agent.config import parse_config
from edge_agent.config.sources import GigESource
from edge_agent.errors import AgentConfigError

REPO = Path(__file__).resolve().parents[3]
LINE_YAML = """
agent_id: a1
line_id: l1
station_id: s1
source:
  type: gige
  camera: Basler-22012345
  pixel_format: BayerRG8
  width: 1280
  height: 960
  exposure_us: 800
  gain_db: 2.5
  trigger_mode: hardware
  trigger_line: Line1
  trigger_activation: RisingEdge
  packet_size: 9000
  buffer_count: 16
  frame_timeout_ms: 1000
  features: {BalanceWhiteAuto: Continuous, ReverseX: true, BlackLevel: 4}
detector: {onnx: m.onnx, class_names: [scratch]}
sinks: [{type: log}]
"""


def line(**source: Any) -> dict[str, Any]:
    data = yaml.safe_load(LINE_YAML)
    data["source"] = {"type": "gige", **source}
    return data


def test_a_line_yaml_with_a_gige_camera_parses() -> None:
    cfg = parse_config(yaml.safe_load(LINE_YAML))
    assert isinstance(cfg.source, GigESource)
    assert (cfg.source.pixel_format, cfg.source.width, cfg.source.trigger_mode) == (
        "BayerRG8",
        1280,
        "hardware",
    )
    assert cfg.source.features == {"BalanceWhiteAuto": "Continuous", "ReverseX": True, "BlackLevel": 4}


def test_defaults_keep_the_camera_s_own_settings() -> None:
    src = parse_config(line()).source
    assert isinstance(src, GigESource)
    assert src.camera is None and src.pixel_format is None and src.width is None
    assert src.exposure_us is None and src.gain_db is None and src.packet_size is None
    assert (src.trigger_mode, src.buffer_count, src.packet_resend) == ("free_run", 8, True)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"pixel_format": "Mono12p"}, "source.pixel_format: Input should be 'Mono8'"),
        ({"trigger_mode": "auto"}, "source.trigger_mode: Input should be 'free_run', 'software' or"),
        ({"exposure_us": 0}, "source.exposure_us: Input should be greater than 0"),
        ({"packet_size": 100}, "source.packet_size: Input should be greater than or equal to 576"),
        ({"buffer_count": 1}, "source.buffer_count: Input should be greater than or equal to 2"),
        ({"frame_timeout_ms": 0}, "source.frame_timeout_ms: Input should be greater than 0"),
        ({"features": {"Bad Name": 1}}, "source.features.Bad Name.[key]: String should match pattern"),
        ({"features": {"Gain": [1, 2]}}, "source.features.Gain.bool: Input should be a valid boolean"),
        ({"exposure": 100}, "source.exposure: Extra inputs are not permitted"),
    ],
)
def test_errors_name_the_yaml_path(source: dict[str, Any], expected: str) -> None:
    with pytest.raises(AgentConfigError) as info:
        parse_config(line(**source))
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def _build_in_subprocess(block: str) -> subprocess.CompletedProcess[str]:
    """Build a gige source in a fresh interpreter where ``block`` (gi or its Aravis typelib) cannot load."""
    code = textwrap.dedent(
        f"""
        import sys
        {block}
        from edge_agent.config.sources import GigESource
        from edge_agent.errors import SourceError
        from edge_agent.sources import build_source
        import edge_agent.sources.simulated  # the other sources still load
        try:
            build_source(GigESource(type="gige"))
        except SourceError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("sys.modules['gi'] = None", "PyGObject (gi) is not installed in this Python: install Aravis"),
        ("sys.modules['gi.repository.Aravis'] = None", "install Aravis and PyGObject for GigE cameras"),
    ],
)
def test_without_gi_or_aravis_the_source_says_what_to_install(block: str, expected: str) -> None:
    if (
        block.startswith("sys.modules['gi.")
        and subprocess.run([sys.executable, "-c", "import gi"], capture_output=True).returncode
    ):
        pytest.skip("PyGObject is not installed: the typelib case needs it")
    result = _build_in_subprocess(block)
    assert result.returncode == 3, result.stderr
    assert expected in result.stdout
    assert "pip install 'factoryloop[gige]'" in result.stdout
