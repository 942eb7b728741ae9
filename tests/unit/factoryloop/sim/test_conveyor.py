"""The simulated conveyor: part geometry, which part a reject hits, ground truth, the sensor's edges."""

from __future__ import annotations

import pytest

from factoryloop.sim import SimConfig
from factoryloop.sim.conveyor import Conveyor, ConveyorConfig, ConveyorPart

# 100 mm pitch at 500 mm/s: a part every 0.2 s; 50 mm long (0.1 s); ejector 300 mm after the sensor
CFG = ConveyorConfig(speed_mm_s=500, pitch_mm=100, part_length_mm=50, ejector_mm=300, first_index=7)


def test_parts_are_numbered_spaced_and_timed() -> None:
    parts = Conveyor(CFG).parts(3)
    assert [(p.part_id, p.number, p.index) for p in parts] == [
        ("part-1", 1, 7),
        ("part-2", 2, 8),
        ("part-3", 3, 9),
    ]
    assert [p.at_sensor_s for p in parts] == pytest.approx([0.0, 0.2, 0.4])
    assert [p.at_ejector_s for p in parts] == pytest.approx([0.65, 0.85, 1.05])  # (300 + 25) / 500 after
    assert [p.encoder for p in parts] == [0, 1000, 2000]  # 10 counts per mm
    assert CFG.ejector_delay_s == pytest.approx(0.65) and CFG.period_s == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("t", "hit"),
    [
        (0.65, "part-1"),  # its centre at the ejector
        (0.6, "part-1"),  # leading edge
        (0.7, "part-1"),  # trailing edge
        (0.75, None),  # the gap between part 1 and part 2
        (0.85, "part-2"),
        (0.59, None),  # before the first part arrives
        (10.65, "part-51"),
    ],
)
def test_a_reject_at_time_t_hits_the_part_in_front_of_the_ejector(t: float, hit: str | None) -> None:
    part = Conveyor(CFG).hit(t)
    assert (part.part_id if part else None) == hit


def test_truth_is_the_simulators_ground_truth_of_the_parts_frame() -> None:
    line = SimConfig(seed=3)
    conveyor = Conveyor(CFG, line)
    parts = conveyor.parts(12)
    frames = [conveyor.simulator.frame(p.index) for p in parts]
    assert [p.defective for p in parts] == [bool(f.boxes) for f in frames]
    assert any(p.defective for p in parts) and not all(p.defective for p in parts)
    assert (conveyor.image(parts[0]) == frames[0].image).all()


def test_run_raises_and_drops_the_sensor_for_each_part_in_order() -> None:
    fast = CFG.model_copy(update={"speed_mm_s": 20_000})  # 5 ms per part
    edges: list[tuple[str, bool]] = []
    conveyor = Conveyor(fast)
    conveyor.run(4, lambda part, present: edges.append((part.part_id, present)))
    assert edges == [(f"part-{n}", v) for n in range(1, 5) for v in (True, False)]
    assert conveyor.started_mono is not None


def test_a_part_longer_than_the_pitch_is_refused() -> None:
    with pytest.raises(ValueError, match="part_length_mm"):
        Conveyor(ConveyorConfig(pitch_mm=50, part_length_mm=60))


def test_parts_are_frozen() -> None:
    part = Conveyor(CFG).part(1)
    assert isinstance(part, ConveyorPart)
    with pytest.raises(AttributeError):
        part.defective = True  # type: ignore[misc]
