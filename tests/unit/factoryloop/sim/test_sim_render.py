from __future__ import annotations

import hashlib

import numpy as np
import pytest

from factoryloop.sim import CLASS_MAP, DEFECT_CLASSES, SimError

ALL_ON = {name: {"rate": 0.6, "max_count": 2} for name in DEFECT_CLASSES}


def _digest(frames) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(f.image.tobytes())
        h.update(repr([(b.class_id, b.x1, b.y1, b.x2, b.y2) for b in f.boxes]).encode())
    return h.hexdigest()


def test_class_map_is_fixed() -> None:
    assert dict(CLASS_MAP) == {"scratch": 0, "dent": 1, "stain": 2, "crack": 3, "missing_hole": 4}
    assert DEFECT_CLASSES[3] == "crack"


def test_same_seed_same_bytes_and_random_access(make_sim) -> None:
    a, b = make_sim(seed=3), make_sim(seed=3)
    assert _digest(a.frames(0, 12)) == _digest(b.frames(0, 12))
    assert _digest([a.frame(9)]) == _digest(list(b.frames(0, 10))[-1:])
    assert _digest(a.frames(0, 12)) != _digest(make_sim(seed=4).frames(0, 12))


def test_frames_have_expected_shape_and_type(make_sim) -> None:
    f = make_sim().frame(0)
    assert f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8


def _diff(sim, i):
    with_d, without = sim.frame(i), sim.frame(i, defects=False)
    return with_d, np.abs(with_d.image.astype(np.int16) - without.image.astype(np.int16)).max(axis=2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_boxes_are_tight_around_changed_pixels(make_sim, seed: int) -> None:
    sim = make_sim(seed=seed, defects=ALL_ON)
    seen = set()
    for i in range(15):
        frame, diff = _diff(sim, i)
        covered = np.zeros(diff.shape, bool)
        for b in frame.boxes:
            seen.add(b.class_name)
            assert 0 <= b.x1 < b.x2 <= 320 and 0 <= b.y1 < b.y2 <= 240
            covered[max(0, b.y1 - 1) : b.y2 + 1, max(0, b.x1 - 1) : b.x2 + 1] = True
            inner = diff[b.y1 : b.y2, b.x1 : b.x2] > 0
            # every edge of the box touches a changed pixel (within 1 px of interpolation)
            assert inner[:2].any() and inner[-2:].any() and inner[:, :2].any() and inner[:, -2:].any()
            # the mask marks changed pixels
            assert (diff[b.y1 : b.y2, b.x1 : b.x2][b.mask] > 0).mean() > 0.6
        assert not (diff[~covered] > 0).any(), f"frame {i}: changed pixels outside every box"
    assert seen == set(DEFECT_CLASSES)


@pytest.mark.parametrize("camera", [{"motion_blur_px": 7}, {"defocus_sigma": 1.5}])
def test_boxes_follow_blur(make_sim, camera) -> None:
    sim = make_sim(seed=5, camera=camera, defects=ALL_ON)
    pad = 3
    for i in range(10):
        frame, diff = _diff(sim, i)
        covered = np.zeros(diff.shape, bool)
        for b in frame.boxes:
            covered[max(0, b.y1 - pad) : b.y2 + pad, max(0, b.x1 - pad) : b.x2 + pad] = True
        strong = diff >= 6
        assert not (strong & ~covered).any(), f"frame {i}: strong change outside the blurred boxes"


def test_negative_index_rejected(make_sim) -> None:
    with pytest.raises(SimError, match="frame index"):
        make_sim().frame(-1)
