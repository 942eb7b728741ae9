"""Camera health from constructed frames: brightness, blur (variance of the Laplacian), frozen image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.health import CameraMonitor, blur_score, brightness, grey_small


def flat(value: int, shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    return np.full((*shape, 3), value, np.uint8)


def checkerboard(cell: int = 8, shape: tuple[int, int] = (480, 640)) -> np.ndarray:
    yy, xx = np.indices(shape)
    grey = (((yy // cell) + (xx // cell)) % 2 * 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def noisy(seed: int, shape: tuple[int, int] = (240, 320)) -> np.ndarray:
    return np.random.default_rng(seed).integers(90, 110, (*shape, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (flat(0), 0.0),
        (flat(200), 200.0),
        (flat(255, (1080, 1920)), 255.0),
        (np.dstack([np.full((240, 320), v, np.uint8) for v in (0, 0, 255)]), 76.0),  # pure red, BGR
    ],
)
def test_brightness_is_the_mean_grey_level(image: np.ndarray, expected: float) -> None:
    assert brightness(grey_small(image)) == pytest.approx(expected, abs=0.6)


def test_grey_small_keeps_the_aspect_at_320_px() -> None:
    assert grey_small(flat(9, (480, 640))).shape == (240, 320)
    assert grey_small(flat(9, (1080, 1920))).shape == (180, 320)


@pytest.mark.parametrize("sigma", [1.5, 3.0, 6.0])
def test_blur_score_drops_when_out_of_focus(sigma: float) -> None:
    sharp = blur_score(grey_small(checkerboard()))
    blurred = blur_score(grey_small(cv2.GaussianBlur(checkerboard(), (0, 0), sigma)))
    assert sharp > 1000
    assert blurred < sharp / 4
    assert blur_score(grey_small(flat(128))) == 0.0


def test_blur_score_orders_increasing_defocus() -> None:
    scores = [
        blur_score(grey_small(cv2.GaussianBlur(checkerboard(), (0, 0), s) if s else checkerboard()))
        for s in (0, 1, 2, 4, 8)
    ]
    assert scores == sorted(scores, reverse=True)


def test_snapshot_before_any_frame() -> None:
    snap = CameraMonitor().snapshot(connected=False, reconnects=2)
    assert snap.brightness is None and snap.blur_score is None
    assert not snap.frozen and not snap.connected and snap.reconnects == 2


@pytest.mark.parametrize(
    ("frames", "frozen"),
    [
        (["a"], False),
        (["a", "a"], False),
        (["a", "a", "a"], True),
        (["a", "a", "a", "a", "a"], True),
        (["a", "a", "a", "b"], False),  # the picture moved again
        (["a", "b", "a", "b", "a"], False),
        (["n0", "n1", "n2", "n3"], False),  # sensor noise: never bit-identical
        (["n0", "n0", "n0"], True),  # a stream that repeats its last decoded frame
    ],
)
def test_frozen_after_three_identical_frames(frames: list[str], frozen: bool) -> None:
    images = {"a": flat(50), "b": flat(51), **{f"n{i}": noisy(i) for i in range(4)}}
    monitor = CameraMonitor(every=1, frozen_after=3)
    for name in frames:
        monitor.observe(images[name])
    assert monitor.snapshot(True, 0).frozen is frozen


def test_only_every_nth_frame_is_analysed() -> None:
    monitor = CameraMonitor(every=10)
    monitor.observe(flat(30))  # frame 1: analysed
    for _ in range(9):
        monitor.observe(flat(200))  # frames 2-10: skipped
    assert monitor.snapshot(True, 0).brightness == pytest.approx(30)
    monitor.observe(flat(200))  # frame 11: analysed
    snap = monitor.snapshot(True, 0)
    assert snap.brightness == pytest.approx(200) and snap.blur_score == 0.0 and not snap.frozen
