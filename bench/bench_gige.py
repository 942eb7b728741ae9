"""GigE source throughput and capture latency from Aravis' fake GigE Vision camera (started here on
127.0.0.1), against the simulated source producing frames of the same size in the same run.

Free run: the camera streams as fast as it can (AcquisitionFrameRate 1000; the fake camera process is what
limits frames/s). Per row: frames/s handed out by ``AravisFrameSource.read``; CPU ms per frame of this process
(Aravis' GVSP receive thread, the copy and the conversion to BGR: what a camera costs the agent); the frame's
age when ``read`` hands it out (host clock at its first packet -> BGR in hand), p50 and p95; corrupt
(incomplete) frames. Software trigger: ``read`` fires TriggerSoftware and waits for that frame; the fake
camera looks for triggers only every 40 ms (its fixed 25 Hz trigger clock), which sets that row's frames/s.
Baseline: ``SimulatedFrameSource.read`` at fps 0 (renders each frame), same width and height.

Run: ``python bench/bench_gige.py [--frames N] [--width W --height H]``. Needs aravis-tools and PyGObject.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import time
from typing import Any

import numpy as np

from edge_agent.config.sources import GigESource, SimulatedSource
from edge_agent.sources.aravis import AravisFrameSource
from edge_agent.sources.simulated import SimulatedFrameSource

GVCP = "0100007F:0F74"  # 127.0.0.1:3956 in /proc/net/udp


def _gvcp_bound() -> bool:
    with open("/proc/net/udp") as f:
        return any(line.split()[1] == GVCP for line in f.readlines()[1:])


def start_fake_camera() -> subprocess.Popen[bytes]:
    exe = shutil.which("arv-fake-gv-camera-0.8")
    if exe is None:
        raise SystemExit("arv-fake-gv-camera-0.8 not found: apt-get install aravis-tools gir1.2-aravis-0.8")
    if _gvcp_bound():
        raise SystemExit("127.0.0.1:3956 is taken: another fake camera runs; stop it first")
    proc = subprocess.Popen([exe, "-i", "127.0.0.1", "-s", "BENCH"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _gvcp_bound():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the fake camera did not start")
        time.sleep(0.05)
    return proc


def measure_gige(n: int, **settings: Any) -> dict[str, float]:
    cfg = GigESource.model_validate({"type": "gige", "camera": "127.0.0.1", "buffer_count": 16, **settings})
    source = AravisFrameSource(cfg)
    source.open()
    try:
        for _ in range(10):  # warm up: buffers allocated, first packets
            source.read()
        ages, valid = [], 0
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            frame = source.read()
            done_ns = time.time_ns()
            if frame is not None and frame.image is not None:
                valid += 1
                ages.append((done_ns - (source.last_host_ns or done_ns)) / 1e6)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        return {
            "fps": valid / elapsed,
            "cpu_ms": 1000 * cpu / n,
            "age_p50_ms": float(np.percentile(ages, 50)),
            "age_p95_ms": float(np.percentile(ages, 95)),
            "corrupt": source.incomplete,
        }
    finally:
        source.close()


def measure_sim(n: int, width: int, height: int) -> dict[str, float]:
    cfg = SimulatedSource(type="simulated", fps=0, sim={"camera": {"width": width, "height": height}})
    source = SimulatedFrameSource(cfg)
    source.open()
    for _ in range(10):
        source.read()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        source.read()
    return {"fps": n / (time.perf_counter() - t0), "cpu_ms": 1000 * (time.process_time() - c0) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    w, h, n = args.width, args.height, args.frames
    size = {"width": w, "height": h}
    camera = start_fake_camera()
    try:
        sim = measure_sim(n, w, h)
        runs = {
            "free run Mono8, 1400 B packets": measure_gige(n, pixel_format="Mono8", frame_rate=1000, **size),
            "free run Mono8, 8000 B packets": measure_gige(
                n, pixel_format="Mono8", frame_rate=1000, packet_size=8000, **size
            ),
            "free run BayerRG8 (demosaic)": measure_gige(n, pixel_format="BayerRG8", frame_rate=1000, **size),
            "free run RGB8 (3 B/pixel)": measure_gige(n, pixel_format="RGB8", frame_rate=1000, **size),
            "software trigger Mono8": measure_gige(
                min(n, 100), pixel_format="Mono8", trigger_mode="software", **size
            ),
        }
    finally:
        camera.send_signal(signal.SIGTERM)
        camera.wait(10)
    print(f"GigE source vs simulated source, {w}x{h}, {n} frames per row")
    print(f"simulated source (baseline): {sim['fps']:.1f} frames/s, {sim['cpu_ms']:.2f} CPU ms/frame")
    print(
        f"{'fake GigE camera':32} {'fps':>7} {'x sim':>6} {'CPU ms':>7} {'x sim':>6} "
        f"{'age p50':>8} {'age p95':>8} {'corrupt':>7}"
    )
    for name, r in runs.items():
        print(
            f"{name:32} {r['fps']:7.1f} {r['fps'] / sim['fps']:6.2f} {r['cpu_ms']:7.2f} "
            f"{r['cpu_ms'] / sim['cpu_ms']:6.2f} {r['age_p50_ms']:8.2f} {r['age_p95_ms']:8.2f} "
            f"{int(r['corrupt']):7d}"
        )


if __name__ == "__main__":
    main()
