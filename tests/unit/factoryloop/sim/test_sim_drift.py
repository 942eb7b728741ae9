from __future__ import annotations

import numpy as np
import pytest

from factoryloop.sim import new_class_drift


def test_new_class_appears_at_frame(make_sim) -> None:
    n = 10
    base = make_sim(defects={"crack": {"rate": 0.0}, "scratch": {"rate": 0.3}})
    drifted = make_sim(
        defects={"crack": {"rate": 0.0}, "scratch": {"rate": 0.3}},
        drift=[new_class_drift("crack", at_frame=n, rate=1.0).model_dump()],
    )
    for i in range(n):
        a, b = base.frame(i), drifted.frame(i)
        assert np.array_equal(a.image, b.image) and not any(x.class_name == "crack" for x in b.boxes)
    after = [drifted.frame(i) for i in range(n, n + 6)]
    assert all(any(x.class_name == "crack" for x in f.boxes) for f in after)
    assert all(f.drift for f in after)


def test_lighting_drift_window(make_sim) -> None:
    sim = make_sim(drift=[{"type": "lighting", "at_frame": 5, "until_frame": 8, "brightness": 1.6}])
    means = [float(sim.frame(i).image.mean()) for i in range(4, 9)]
    assert means[1] > means[0] * 1.3 and means[3] > means[0] * 1.3
    assert abs(means[4] - means[0]) < 5


def test_time_based_drift_uses_fps(make_sim) -> None:
    sim = make_sim(
        camera={"fps": 10}, drift=[{"type": "product_change", "at_s": 1.0, "product": "ceramic_tile"}]
    )
    assert sim.frame(9).product == "steel_plate" and sim.frame(10).product == "ceramic_tile"


def test_rate_spike_and_camera_shift(make_sim) -> None:
    sim = make_sim(
        defects={"dent": {"rate": 0.1}},
        drift=[
            {"type": "rate_spike", "at_frame": 3, "factor": 10.0, "class_names": ["dent"]},
            {"type": "camera", "at_frame": 3, "shift_x": 30.0, "defocus_sigma": 2.0},
        ],
    )
    assert sim.state(2).rates[1] == pytest.approx(0.1) and sim.state(3).rates[1] == pytest.approx(1.0)
    assert sim.state(3).shift_x == 30.0 and sim.state(3).defocus_sigma == 2.0
