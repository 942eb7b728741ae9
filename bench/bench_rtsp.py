"""Network camera benchmark: the OpenCV source reading GStreamer's RTSP server against the same frames read
from a local file, printed as ratios of one run.

    python bench/bench_rtsp.py [--seconds 8] [--fps 30] [--size 640x480] [--codec h264]

Simulator frames get a time code painted in when they are handed to the encoder (tests/support/rtsp_server.py,
wall clock in microseconds); the source's frames are decoded back, so capture latency = frame made -> frame
returned by ``OpenCVFrameSource.read()``. Baseline: the same stamped frames through the same encoder into a
Matroska file, read with the same source (every frame, as fast as possible); its "latency" is the read call
itself (demux + decode). Scenarios, ``--seconds`` each:

- file: decoded frames/s, process CPU ms per frame, read time per frame;
- rtsp tcp / udp: a consumer faster than the camera (newest-frame mode, the default for streams);
- rtsp slow: inference 2x slower than the camera (a sleep of 2 frame periods per frame), newest-frame mode on
  against off (``latest: false``, every frame in order): latency stays flat vs grows with the backlog;
- rtsp max: the server at 4x ``--fps``, every frame read: the most the stream delivers here.
Server and reader share this machine's CPUs (the server encodes in real time). Each stream scenario first
reads for 1.5 s unmeasured (connection, first keyframe, the frames queued meanwhile).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo (edge_agent, tests.support)

from edge_agent.config import OpenCVSource
from edge_agent.sources.opencv import OpenCVFrameSource
from tests.support.video_streams import (
    RtspServer,
    latency_ms,
    read_stamp,
    record_file,
    rtsp_missing,
    write_sim_frames,
)

WARMUP_S = 1.5


@dataclass
class Result:
    name: str
    frames: int
    fps: float
    cpu_ms: float
    lat_p50: float
    lat_p95: float
    lat_max: float
    lat_last: float
    dropped: int
    unreadable: int


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(
    name: str, uri: str, seconds: float, *, work_s: float = 0.0, file: bool = False, **kw: object
) -> Result:
    source = OpenCVFrameSource(OpenCVSource.model_validate({"type": "opencv", "uri": uri, **kw}))
    source.open()
    latencies: list[float] = []
    unreadable = frames = 0
    try:
        warm_until = time.perf_counter() + (0.0 if file else WARMUP_S)
        while source.read() is not None and time.perf_counter() < warm_until:
            pass  # connection set-up, the first keyframe and frames queued meanwhile: not steady state
        t0, c0, d0 = time.perf_counter(), time.process_time(), source.stale_dropped
        while time.perf_counter() - t0 < seconds:
            before = time.perf_counter()
            frame = source.read()
            if frame is None:
                break
            read_ms = (time.perf_counter() - before) * 1000
            stamp = read_stamp(frame.image) if frame.image is not None else None
            if stamp is None:
                unreadable += 1
            else:
                latencies.append(read_ms if file else latency_ms(stamp[0]))
            frames += 1
            if work_s:
                threading.Event().wait(work_s)  # inference
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        source.close()
    return Result(
        name,
        frames,
        frames / wall,
        cpu * 1000 / max(1, frames),
        _pct(latencies, 50),
        _pct(latencies, 95),
        max(latencies, default=float("nan")),
        statistics.fmean(latencies[-10:]) if latencies else float("nan"),
        source.stale_dropped - d0,
        unreadable,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--codec", choices=["h264", "mjpeg"], default="h264")
    args = ap.parse_args()
    if (reason := rtsp_missing()) is not None:
        print(f"cannot run: {reason}")
        return 2
    width, height = (int(v) for v in args.size.split("x"))
    s, fps = args.seconds, args.fps
    with tempfile.TemporaryDirectory(prefix="bench-rtsp-") as tmp:
        frames = write_sim_frames(Path(tmp) / "frames", 60, width, height)
        video = record_file(frames, Path(tmp) / "line.mkv", round(fps * s * 4) + 1, args.codec, fps)
        results = [run("file (baseline)", str(video), s * 4, file=True)]
        with RtspServer(frames, fps=fps, codec=args.codec) as server:
            results.append(run("rtsp tcp", server.url, s))
            results.append(run("rtsp udp", server.url, s, transport="udp"))
            results.append(run("rtsp slow, newest frame", server.url, s, work_s=2 / fps))
            results.append(run("rtsp slow, every frame", server.url, s, work_s=2 / fps, latest=False))
        with RtspServer(frames, fps=fps * 4, codec=args.codec) as server:
            results.append(run(f"rtsp max ({fps * 4:g} fps served)", server.url, s, latest=False))
    base = results[0]
    print(f"OpenCV source, {args.codec} {width}x{height}, stream at {fps:g} fps, {s:g} s per scenario")
    print(
        f"{'scenario':<32} {'frames':>6} {'fps':>7} {'cpu ms/f':>8} {'x file':>6} "
        f"{'lat p50':>8} {'p95':>7} {'max':>7} {'last10':>7} {'dropped':>7} {'bad':>4}"
    )
    for r in results:
        print(
            f"{r.name:<32} {r.frames:>6} {r.fps:>7.1f} {r.cpu_ms:>8.2f} {r.cpu_ms / base.cpu_ms:>6.2f} "
            f"{r.lat_p50:>8.1f} {r.lat_p95:>7.1f} {r.lat_max:>7.1f} {r.lat_last:>7.1f} {r.dropped:>7} "
            f"{r.unreadable:>4}"
        )
    print("latency in ms: rtsp = frame made -> read() returned; file = the read() call (demux + decode)")
    tcp, slow_new, slow_all = results[1], results[3], results[4]
    print(f"rtsp tcp latency p50 / file read p50: {tcp.lat_p50 / base.lat_p50:.1f}x")
    print(
        "slow consumer, latency of the last 10 frames, every frame / newest frame: "
        f"{slow_all.lat_last / slow_new.lat_last:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
