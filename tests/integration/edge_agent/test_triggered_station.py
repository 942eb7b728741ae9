"""A triggered station end to end: the simulated conveyor raises the part-present signal on a real Modbus PLC
or publishes it on a real MQTT broker; the agent captures each part, inspects it with a real ONNX model,
publishes its outcome (item_id = part id) to Kafka, and fires the reject over MQTT when the part reaches the
ejector. The rejects read back from the broker are checked against the simulator's ground truth."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings
from factoryloop.schemas import Heartbeat, Outcome
from factoryloop.settings import KafkaSettings
from factoryloop.sim import SimConfig
from factoryloop.sim.conveyor import Conveyor, ConveyorConfig, ConveyorPart
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, read_topic, wait_until
from tests.support.station import (
    DARK_DEFECT_LINE,
    ModbusPlc,
    MqttInbox,
    calibrated_dark_model,
    mosquitto,
    mqtt_publisher,
    subscribed,
)

pytest.importorskip("onnx")

SEED, FIRST = 1, 100
LINE = SimConfig.model_validate({**DARK_DEFECT_LINE, "seed": SEED})
# a part every 0.25 s (100 mm pitch at 400 mm/s), 80 mm long: in reach +-100 ms around its centre
BELT = ConveyorConfig(speed_mm_s=400, pitch_mm=100, part_length_mm=80, ejector_mm=240, first_index=FIRST)
PARTS = 16


@contextlib.contextmanager
def trigger_line(
    kind: str, broker: int
) -> Iterator[tuple[dict[str, Any], Callable[[ConveyorPart, bool], None]]]:
    """The ``trigger:`` of the line YAML, and the conveyor's sensor callback that drives it."""
    if kind == "modbus":
        with ModbusPlc() as plc:

            def on_plc(part: ConveyorPart, present: bool) -> None:
                plc.part_number, plc.encoder = part.number, part.encoder
                plc.present = present

            yield (
                {
                    "type": "modbus",
                    "host": "127.0.0.1",
                    "port": plc.port,
                    "poll_ms": 1,
                    "part_id_register": 0,
                    "encoder_register": 0,
                },
                on_plc,
            )
    else:
        with mqtt_publisher(broker) as pub:

            def on_mqtt(part: ConveyorPart, present: bool) -> None:
                if present:
                    pub.publish(
                        "line/part", f'{{"part_id": "{part.part_id}", "encoder": {part.encoder}}}', qos=1
                    )

            yield {"type": "mqtt", "host": "127.0.0.1", "port": broker, "topic": "line/part"}, on_mqtt


def station_config(kafka: KafkaSettings, tmp: Path, trigger: dict[str, Any], broker: int, **over: Any) -> Any:
    conveyor = Conveyor(BELT, LINE)
    parts = conveyor.parts(PARTS)
    model = calibrated_dark_model(
        tmp / "dark.onnx", [conveyor.image(p) for p in parts], [p.defective for p in parts]
    )
    sim = LINE.model_dump(mode="json", exclude={"seed"})
    return agent_config(
        kafka,
        model,
        tmp,
        source={"type": "simulated", "fps": 0, "seed": SEED, "start": FIRST, "sim": sim, "max_frames": None},
        trigger=trigger,
        ejector={"delay_ms": BELT.ejector_delay_s * 1000, "window_ms": 50},
        sinks=[
            {"type": "mqtt", "name": "ejector", "host": "127.0.0.1", "port": broker, "topic": "line/reject"}
        ],
        deployments={"enabled": False},
        **over,
    )


def run_belt(
    agent: Agent, on_sensor: Callable[[ConveyorPart, bool], None], parts: int
) -> tuple[Conveyor, Heartbeat]:
    """Start the agent, play ``parts`` past the sensor once its trigger is up, stop when all are settled;
    the conveyor and the agent's last heartbeat."""
    agent.start()
    assert agent.triggered is not None
    watched = agent.triggered.capture.trigger
    wait_until(lambda: watched.stats.connected, 90, "the trigger to connect")
    conveyor = Conveyor(BELT, LINE)
    conveyor.start(parts, on_sensor).join(60)
    wait_until(lambda: watched.stats.parts >= parts, 90, "every part triggered")
    assert agent.ejector is not None
    ejector = agent.ejector
    wait_until(lambda: len(ejector.tracker) == 0, 90, "every part past the ejector")
    heartbeat = agent.heartbeat()
    agent.close()
    return conveyor, heartbeat


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    with mosquitto(tmp_path) as port:
        yield port


@pytest.mark.parametrize("kind", ["modbus", "mqtt"])
def test_every_reject_hits_its_defective_part(
    kind: str, kafka_settings: KafkaSettings, tmp_path: Path, broker: int
) -> None:
    with trigger_line(kind, broker) as (trigger, on_sensor), subscribed(broker, "line/reject") as rejects:
        cfg = station_config(kafka_settings, tmp_path, trigger, broker)
        agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
        conveyor, hb = run_belt(agent, on_sensor, PARTS)
    parts = conveyor.parts(PARTS)
    defective = [p.part_id for p in parts if p.defective]
    assert [r["item_id"] for r in rejects.payloads()] == defective  # each once, in belt order
    assert {r["verdict"] for r in rejects.payloads()} == {"FAIL"}
    assert_hits(conveyor, rejects)
    assert (hb.parts_triggered, hb.late_rejects, hb.missed_parts) == (PARTS, 0, 0)
    outcomes = [
        o for o in read_topic(kafka_settings, TopicRole.OUTCOMES, until=PARTS) if isinstance(o, Outcome)
    ]
    assert sorted((o.item_id or "", o.verdict.value) for o in outcomes) == sorted(
        (p.part_id, "FAIL" if p.defective else "PASS") for p in parts
    )


def assert_hits(conveyor: Conveyor, rejects: MqttInbox) -> None:
    """Each reject, when it reached the subscriber, hit the part it names (the conveyor's truth)."""
    assert conveyor.started_mono is not None
    for payload, at in rejects.messages:
        hit = conveyor.hit(at - conveyor.started_mono)
        assert hit is not None and hit.part_id == payload["item_id"] and hit.defective, (payload, hit)


def test_a_reject_that_would_be_late_is_counted_and_not_fired(
    kafka_settings: KafkaSettings, tmp_path: Path, broker: int
) -> None:
    with trigger_line("mqtt", broker) as (trigger, on_sensor), subscribed(broker, "line/reject") as rejects:
        cfg = station_config(kafka_settings, tmp_path, trigger, broker)
        # the ejector right at the trigger with no grace: every verdict comes after the part has passed it;
        # no fail-safe: a part without a verdict in reach goes through
        late = {"delay_ms": 0.0, "window_ms": 0.0, "missed": "pass"}
        cfg = cfg.model_copy(update={"ejector": cfg.ejector.model_copy(update=late)})
        agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
        conveyor, hb = run_belt(agent, on_sensor, 8)
    defective = [p for p in conveyor.parts(8) if p.defective]
    assert defective, "the first 8 parts must include defective ones"
    assert rejects.payloads() == []
    assert agent.stats.get("late_rejects") == len(defective)
    # every part had no verdict while in reach (missed); the defective ones' rejects came late
    assert (hb.parts_triggered, hb.late_rejects, hb.missed_parts) == (8, len(defective), 8)


def test_a_part_without_a_frame_is_missed_and_fail_safe_rejected(
    kafka_settings: KafkaSettings, tmp_path: Path, broker: int
) -> None:
    with trigger_line("mqtt", broker) as (trigger, on_sensor), subscribed(broker, "line/reject") as rejects:
        cfg = station_config(kafka_settings, tmp_path, trigger, broker)
        cfg = cfg.model_copy(update={"source": cfg.source.model_copy(update={"max_frames": 5})})
        agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
        stopped = threading.Event()
        agent.start()
        assert agent.triggered is not None
        wait_until(lambda: agent.triggered.capture.trigger.stats.connected, 90, "the trigger")  # type: ignore[union-attr]
        conveyor = Conveyor(BELT, LINE)
        conveyor.start(8, on_sensor, stopped)
        assert agent.wait(30), "the station stops when its camera has no more frames"
        stopped.set()
        agent.close()  # fires the fail-safe reject of part 6 at its time, then closes the sinks
        rejects.wait_for(1, 5)
    parts = conveyor.parts(6)
    expected = [p.part_id for p in parts[:5] if p.defective] + ["part-6"]  # part 6 came with no frame left
    assert [r["item_id"] for r in rejects.payloads()] == expected
    assert rejects.payloads()[-1]["classes"] == ["missed_part"]
    assert agent.stats.get("missed_parts") == 1 and agent.stats.get("parts_triggered") == 6
    assert_hits_part_6(conveyor, rejects)


def assert_hits_part_6(conveyor: Conveyor, rejects: MqttInbox) -> None:
    assert conveyor.started_mono is not None
    _payload, at = rejects.messages[-1]
    hit = conveyor.hit(at - conveyor.started_mono)
    assert hit is not None and hit.part_id == "part-6"


def test_two_cameras_give_one_verdict_per_part_the_worst(
    kafka_settings: KafkaSettings, tmp_path: Path, broker: int
) -> None:
    top, side = Conveyor(BELT, LINE), Conveyor(BELT.model_copy(update={"first_index": 300}), LINE)
    parts = 10
    images = [c.image(p) for c in (top, side) for p in c.parts(parts)]
    truth = [p.defective for c in (top, side) for p in c.parts(parts)]
    model = calibrated_dark_model(tmp_path / "dark.onnx", images, truth)
    sim = LINE.model_dump(mode="json", exclude={"seed"})
    camera = {"type": "simulated", "fps": 0, "seed": SEED, "sim": sim}
    cfg = agent_config(
        kafka_settings,
        model,
        tmp_path,
        source=None,
        sources=[{**camera, "start": FIRST}, {**camera, "start": 300}],
        trigger={"type": "timer", "period_s": 0.1},
        ejector={"delay_ms": 300, "window_ms": 50},
        sinks=[
            {"type": "mqtt", "name": "ejector", "host": "127.0.0.1", "port": broker, "topic": "line/reject"}
        ],
        deployments={"enabled": False},
    )
    with subscribed(broker, "line/reject") as rejects:
        agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
        agent.start()
        wait_until(lambda: agent.stats.get("parts_triggered") >= parts, 90, f"{parts} parts")
        agent.stop()
        assert agent.wait(30)
        triggered = agent.stats.get("parts_triggered")  # the timer may have given one more before the stop
        ejector = agent.ejector
        assert ejector is not None
        wait_until(lambda: len(ejector.tracker) == 0, 90, "every part past the ejector")
        agent.close()
    defective = [
        f"part-{n}" for n in range(1, triggered + 1) if top.part(n).defective or side.part(n).defective
    ]
    assert any(top.part(n).defective != side.part(n).defective for n in range(1, parts + 1))
    assert [r["item_id"] for r in rejects.payloads()] == defective  # one reject per part, either camera
    outcomes = [
        o
        for o in read_topic(kafka_settings, TopicRole.OUTCOMES, until=2 * triggered)
        if isinstance(o, Outcome)
    ]
    per_part: dict[str, list[str]] = {}
    for o in outcomes:
        per_part.setdefault(o.item_id or "", []).append(o.verdict.value)
    assert {k: len(v) for k, v in per_part.items()} == {f"part-{n}": 2 for n in range(1, triggered + 1)}
    assert agent.stats.get("missed_parts") == 0 and agent.stats.get("late_rejects") == 0
