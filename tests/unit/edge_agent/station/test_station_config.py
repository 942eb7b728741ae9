"""The line YAML's trigger, ejector and several cameras: what is accepted, and errors with their YAML path."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from edge_agent.config import parse_config
from edge_agent.config.sources import ReconnectConfig
from edge_agent.errors import AgentConfigError
from edge_agent.sources.base import FrameSource, RawFrame
from edge_agent.sources.watchdog import WatchedSource
from edge_agent.station.capture import LatestFrame, NextFrame, TriggeredFrame, camera_for, is_live
from edge_agent.triggers.base import TriggerEvent

BASE: dict[str, Any] = {
    "agent_id": "a1",
    "line_id": "l1",
    "station_id": "s1",
    "source": {"type": "simulated"},
    "detector": {"onnx": "m.onnx"},
}
TRIGGER = {"type": "modbus", "host": "plc", "address": 4}


class _Unopened(FrameSource):
    """Stands for the camera: choosing how to read it opens nothing."""

    def open(self) -> None:
        raise AssertionError("not opened")

    def read(self) -> RawFrame | None:
        raise AssertionError("not read")

    def close(self) -> None:
        pass


TOP, SIDE = {"type": "simulated", "seed": 1}, {"type": "folder", "path": "/frames"}


def cfg(**over: Any) -> dict[str, Any]:
    data = {**BASE, **over}
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (cfg(ejector={"delay_ms": 300}), "<root>: Value error, an ejector needs a trigger"),
        (cfg(trigger=TRIGGER, ejector={"window_ms": 5}), "ejector: Value error, say where the ejector is"),
        (cfg(trigger=TRIGGER, ejector={"delay_ms": 1, "colour": 2}), "ejector.colour: Extra inputs are not"),
        (cfg(trigger={**TRIGGER, "table": "holding"}), "trigger.table: Input should be"),
        (cfg(trigger={"type": "pigeon"}), "trigger: Input tag 'pigeon' found using 'type' does not match"),
        (cfg(trigger={"type": "mqtt"}), "trigger.host: Field required"),
        (cfg(source=None, sources=[TOP, SIDE]), "several cameras (sources:) need a trigger"),
        (
            cfg(sources=[TOP, SIDE], trigger=TRIGGER),
            "either as source: (one) or as sources: (a list), not both",
        ),
        (
            cfg(source=None, sources=[TOP, {"type": "folder"}], trigger=TRIGGER),
            "sources[1].path: Field required",
        ),
    ],
)
def test_invalid_station_configs_name_the_problem(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(AgentConfigError) as err:
        parse_config(data)
    assert expected in str(err.value), str(err.value)


def test_a_triggered_station_with_two_cameras_and_an_ejector() -> None:
    c = parse_config(
        cfg(
            source=None,
            sources=[TOP, SIDE],
            trigger={"type": "mqtt", "host": "broker", "topic": "l1/part"},
            ejector={"distance_mm": 450, "speed_mm_s": 600, "missed": "pass"},
        )
    )
    assert [s.type for s in c.cameras] == ["simulated", "folder"] and c.source == c.cameras[0]
    assert c.ejector is not None and c.ejector.fixed_delay_s() == pytest.approx(0.75)
    assert parse_config(c.model_dump(mode="json")).cameras == c.cameras  # round trip: source = sources[0]


def test_without_a_trigger_nothing_changes() -> None:
    c = parse_config(cfg())
    assert (c.trigger, c.ejector, c.sources) == (None, None, ()) and c.cameras == (c.source,)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ({"type": "opencv", "uri": 0}, LatestFrame),
        ({"type": "opencv", "uri": "rtsp://cam/stream"}, LatestFrame),
        ({"type": "opencv", "uri": "/videos/line.mp4"}, NextFrame),
        ({"type": "simulated"}, NextFrame),
        ({"type": "folder", "path": "/frames"}, NextFrame),
        ({"type": "gige", "trigger_mode": "free_run"}, LatestFrame),
        ({"type": "gige", "trigger_mode": "software"}, TriggeredFrame),  # one read = one trigger = one frame
        ({"type": "gige", "trigger_mode": "hardware"}, TriggeredFrame),
    ],
)
def test_live_cameras_give_the_newest_frame_replays_the_next_triggered_ones_a_read(
    source: dict[str, Any], kind: type
) -> None:
    config = parse_config(cfg(source=source)).source
    assert is_live(config) is (kind is not NextFrame)
    watched = WatchedSource(_Unopened(), ReconnectConfig(), threading.Event())
    assert isinstance(camera_for(config, watched), kind)  # how the station takes each part's frame


class _Counting(FrameSource):
    """A self-triggered camera: each read is one trigger, one frame."""

    def __init__(self) -> None:
        self.reads = 0

    def open(self) -> None:
        pass

    def read(self) -> RawFrame | None:
        self.reads += 1
        return RawFrame(image=np.zeros((4, 4, 3), np.uint8), index=self.reads)

    def close(self) -> None:
        pass


def test_a_self_triggered_camera_is_read_at_each_part_never_ahead() -> None:
    source = _Counting()
    camera = TriggeredFrame(WatchedSource(source, ReconnectConfig(), threading.Event()))
    camera.start()
    assert source.reads == 0  # a read ahead would fire the camera's trigger before the first part
    event = TriggerEvent(part_id="p1", at_mono=0.0, at=datetime.now(UTC))
    frames = [camera.frame_for(event) for _ in range(3)]
    assert [f.index for f in frames if f is not None] == [1, 2, 3] and source.reads == 3
    camera.close()
