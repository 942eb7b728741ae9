"""Simulator throughput: frames/s at 640x480 and 320x240 on one core, against baselines of the same run.

Baselines: ``np.random`` frame generation (uint8 noise of the same size) and ``cv2.imencode`` JPEG of the
simulator's own frames. Run: ``python bench/bench_sim.py [--frames N]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np

from factoryloop.sim import SimConfig, Simulator


def _rate(fn: Callable[[int], object], n: int) -> float:
    fn(0)  # warm caches (textures, gain maps, noise bank)
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        fn(i)
    return n / (time.perf_counter() - t0)


def bench(width: int, height: int, n: int) -> dict[str, float]:
    cfg = SimConfig.model_validate({"camera": {"width": width, "height": height}})
    sim = Simulator(cfg, seed=0)
    rng = np.random.default_rng(0)
    frames = [sim.frame(i).image for i in range(16)]
    sim_fps = _rate(lambda i: sim.frame(i), n)
    rand_fps = _rate(lambda i: rng.integers(0, 256, (height, width, 3), dtype=np.uint8), n)
    jpeg_fps = _rate(lambda i: cv2.imencode(".jpg", frames[i % 16]), n)
    return {"sim": sim_fps, "np_random": rand_fps, "jpeg_encode": jpeg_fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=400)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"simulator benchmark, one core (cv2 threads=1), {args.frames} frames per measurement")
    print(
        f"{'size':>9} {'sim fps':>9} {'np.random fps':>14} {'jpeg fps':>9} {'sim/random':>11} {'sim/jpeg':>9}"
    )
    for w, h in ((640, 480), (320, 240)):
        r = bench(w, h, args.frames)
        print(
            f"{w}x{h:<5} {r['sim']:9.1f} {r['np_random']:14.1f} {r['jpeg_encode']:9.1f} "
            f"{r['sim'] / r['np_random']:11.2f} {r['sim'] / r['jpeg_encode']:9.2f}"
        )


if __name__ == "__main__":
    main()
