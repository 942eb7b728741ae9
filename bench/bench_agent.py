"""Edge agent benchmark, printed as ratios in one run.

    python bench/bench_agent.py [--frames 300] [--rounds 5] [--models tiny,yolo11n] [--bootstrap HOST:PORT]

For each model: the tiny model of tests/support/models.py (fl-tiny, imgsz 224, trained) and a yolo11n-size
model (ultralytics' yolo11n.yaml, 5 classes, untrained, imgsz 320; built offline once and cached beside it):

- agent fps / bare onnxruntime loop fps (goal >= 0.90) and agent fps / ultralytics predict fps (goal >= 1.5),
  one CPU thread each, on the same held-out simulator frames: rendered once, written as PNG, decoded once; the
  loops iterate over the decoded arrays and the agent replays them with the folder source (``preload``), so
  both sides do the same capture work. ``--rounds`` interleaved rounds (order rotated): ratios of the best of
  each side, and the median of the ratios within each round (other jobs share the CPUs: pairs are closer).
  Agent fps: steady state, (frames - 1) / (first verdict -> last verdict), every frame queued (none
  dropped), with Kafka connected before the first frame; everything else of the agent runs as in
  production (rules, a log sink signalled on FAIL, one outcome per frame published to Kafka, acks=all).
- CPU ms per frame: process CPU (all threads) from the first verdict to 95% of the frames against the bare
  loop's (least of the rounds), and the agent's by thread (Linux /proc): load-independent overhead.
- frame -> reject-signal latency p50/p99 over the FAIL frames at ``--camera-fps`` (default rules).
- publish rate of 50 KB frames: our EventProducer and the agent's Publisher / a raw kafka-python producer
  with the same settings (acks=all, idempotent, linger 5 ms, 256 KB batches; needs --bootstrap).
Without --bootstrap every outcome goes to the agent's disk buffer (fsync per commit): not comparable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo (edge_agent, tests.support)
os.environ.setdefault("YOLO_OFFLINE", "true")

import cv2
import numpy as np

from bench.agent_models import MODELS, BenchModel
from bench.agent_publish import publish_rates
from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.detect.letterbox import letterbox, to_tensor
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.settings import AgentSettings
from factoryloop.settings import KafkaSettings

CPU_MS: dict[str, float] = {}  # the last run's process CPU ms per frame, by side
THREAD_MS: dict[str, float] = {}  # the last agent run's CPU ms per frame, by thread (Linux /proc)


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each live thread of this process, by thread name; {} off Linux."""
    names = {str(t.native_id): t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for tid, name in names.items():
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def bare_fps(onnx: Path, imgsz: int, frames: list[np.ndarray]) -> float:
    """What the agent's detector does per frame, and nothing else: letterbox, tensor, session.run."""
    det = OnnxDetector(onnx, DetectorOptions(imgsz=imgsz, threads=1))
    det.warmup(3)
    t0, c0 = time.perf_counter(), time.process_time()
    for f in frames:
        boxed, _ = letterbox(f, imgsz)
        det.session.run(None, {det.input_name: to_tensor(boxed)})
    CPU_MS["bare"] = (time.process_time() - c0) * 1000 / len(frames)
    return len(frames) / (time.perf_counter() - t0)


def ultralytics_fps(pt: Path, imgsz: int, frames: list[np.ndarray]) -> float:
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(1)
    model = YOLO(str(pt))
    for f in frames[:3]:
        model.predict(f, imgsz=imgsz, verbose=False, device="cpu")
    t0 = time.perf_counter()
    for f in frames:
        model.predict(f, imgsz=imgsz, verbose=False, device="cpu")
    return len(frames) / (time.perf_counter() - t0)


def agent_run(
    onnx: Path, imgsz: int, folder: Path, count: int, bootstrap: str | None, tmp: Path, fps: float
) -> tuple[float, float, Agent]:
    """The whole agent replaying the ``count`` images of ``folder`` (decoded once, at open).

    ``fps`` 0: as fast as possible, every frame queued (throughput); else the camera's rate (latency).
    Returns the steady-state fps, (frames - 1) / (first verdict -> last verdict), the process CPU ms per
    frame over the same span (all threads: inspection, publish, Kafka client, sinks) and the stopped agent.
    """
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    if bootstrap:
        from factoryloop.kafka import ensure_topics

        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix), replication_factor=1)
    cfg = parse_config(
        {
            "agent_id": "bench",
            "line_id": "bench",
            "station_id": "s1",
            "source": {"type": "folder", "path": str(folder), "fps": fps, "preload": True},
            "detector": {"onnx": str(onnx), "imgsz": imgsz, "threads": 1},
            "sinks": [{"type": "log", "level": "DEBUG", "queue_size": 1024}],
            "sampling": {"fail": False, "uncertain": False, "rare_class_min_count": 0, "pass_rate": 0.0},
            "buffer": {"dir": str(tmp / "buf")},
            "pipeline": {"capture_queue": count if fps == 0 else 8},  # throughput: drop nothing
            "deployments": {"enabled": False},
            "kafka": {"bootstrap_servers": bootstrap or "127.0.0.1:1", "topic_prefix": prefix},
        }
    )
    agent = Agent(cfg, AgentSettings(state_dir=tmp / "state"))
    if bootstrap:  # connect first: outcomes go to Kafka from the first frame, as in steady operation
        agent.publisher.start()
        deadline = time.monotonic() + 30
        while not agent.publisher.connected and time.monotonic() < deadline:
            time.sleep(0.05)
    agent.start()
    # CPU (process, and per thread) between the first verdict and 95% of the frames (threads end at the end)
    marks: list[tuple[int, float, dict[str, float]]] = []
    stop_at = count - max(count // 20, 2)
    while (done := agent.stats.get("frames_inspected")) + agent.stats.get("frames_dropped") < count:
        if (done and not marks) or (len(marks) == 1 and done >= stop_at):
            marks.append((done, time.process_time(), thread_cpu()))
        time.sleep(0.01)
    if len(marks) < 2:
        marks.append((done, time.process_time(), thread_cpu()))
    (n0, c0, t0), (n1, c1, t1) = marks[0], marks[-1]
    THREAD_MS.clear()
    THREAD_MS.update({k: (v - t0.get(k, 0.0)) * 1000 / max(n1 - n0, 1) for k, v in t1.items()})
    agent.wait()
    agent.close(timeout_s=15)
    first, last = agent.pipeline.first_decided_mono, agent.pipeline.last_decided_mono
    inspected = agent.stats.get("frames_inspected")
    assert first is not None and last is not None, agent.stats.snapshot()
    assert inspected == count or fps > 0, agent.stats.snapshot()  # only a paced camera may drop frames
    cpu_ms = (c1 - c0) * 1000 / max(n1 - n0, 1)
    return (inspected - 1) / (last - first), cpu_ms, agent


def _agent_fps(model: BenchModel, folder: Path, count: int, bootstrap: str | None, tmp: Path) -> float:
    fps, CPU_MS["agent"], _ = agent_run(model.onnx, model.imgsz, folder, count, bootstrap, tmp, 0)
    return fps


def bench_model(
    model: BenchModel, frames: list[np.ndarray], folder: Path, args: argparse.Namespace, tmp: Path
) -> None:
    best = {"bare": 0.0, "ultralytics": 0.0, "agent": 0.0}
    runs: dict[str, Callable[[], float]] = {
        "bare": lambda: bare_fps(model.onnx, model.imgsz, frames),
        "ultralytics": lambda: ultralytics_fps(model.pt, model.imgsz, frames),
        "agent": lambda: _agent_fps(model, folder, len(frames), args.bootstrap, tmp / uuid.uuid4().hex),
    }
    names = list(runs)
    every: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {"bare": [], "agent": []}
    per_thread: list[dict[str, float]] = []
    for r in range(args.rounds):  # interleaved, order rotated: a load spike hits every side alike
        for name in names[r % len(names) :] + names[: r % len(names)]:
            every[name].append(runs[name]())
            best[name] = max(best[name], every[name][-1])
            if name in cpu:
                cpu[name].append(CPU_MS[name])
            if name == "agent":
                per_thread.append(dict(THREAD_MS))
    _, _, paced = agent_run(
        model.onnx, model.imgsz, folder, len(frames), args.bootstrap, tmp / "paced", args.camera_fps
    )
    p50, p99 = paced.stats.reject_ms.percentiles(50, 99)
    inf50, _ = paced.stats.inference_ms.percentiles(50, 99)
    print(f"== {model.name}: {model.onnx}")
    for name in names:
        print(f"{name + ' fps':26s}{best[name]:8.1f}  (rounds: {', '.join(f'{v:.0f}' for v in every[name])})")
    for other, goal in (("bare", 0.9), ("ultralytics", 1.5)):
        paired = [a / b for a, b in zip(every["agent"], every[other], strict=True)]
        ratio = best["agent"] / best[other]
        print(
            f"agent/{other + ' ratio':19s}{ratio:8.2f}  best of each (goal >= {goal:g}); "
            f"per round {' '.join(f'{x:.2f}' for x in paired)}, median {statistics.median(paired):.2f}"
        )
    bare_cpu, agent_cpu = min(cpu["bare"]), min(cpu["agent"])
    print(
        f"CPU ms per frame          bare {bare_cpu:.2f}, agent {agent_cpu:.2f} (all threads, least of the "
        f"rounds) -> bare/agent {bare_cpu / agent_cpu:.2f}: the fps ratio if one core is all there is"
    )
    leanest = per_thread[cpu["agent"].index(agent_cpu)]
    busy = sorted(((v, k) for k, v in leanest.items() if v >= 0.005), reverse=True)
    if busy:
        print(f"agent CPU ms per frame by thread (that round): {', '.join(f'{k} {v:.2f}' for v, k in busy)}")
    fails = paced.stats.get("verdict:FAIL")
    if p50 is not None and p99 is not None:
        print(
            f"frame->reject p50/p99 ms  {p50:8.1f} / {p99:.1f}  (camera at {args.camera_fps:g} fps, "
            f"{fails} FAIL frames signalled, inference p50 {inf50:.1f} ms, "
            f"{paced.stats.get('frames_dropped')} frames dropped)"
        )
    else:
        print(f"frame->reject: no FAIL frame; inference p50 {inf50:.1f} ms at {args.camera_fps:g} fps")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--models", default="tiny,yolo11n,yolo11n-int8", help=f"comma-separated, of {sorted(MODELS)}"
    )
    ap.add_argument("--bootstrap", default=None, help="Kafka for the agent's outcomes and publish rates")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "factoryloop" / "test-models"))
    ap.add_argument("--publish-records", type=int, default=2000, help="0: skip the publish benchmark")
    ap.add_argument("--camera-fps", type=float, default=30.0, help="frame rate of the latency run")
    args = ap.parse_args()
    from factoryloop.sim.config import SimConfig
    from factoryloop.sim.render import Simulator
    from tests.support.models import HELD_OUT_START, TINY_SIM

    sim_cfg = TINY_SIM.model_dump(mode="json")
    sim_cfg["camera"]["noise_sigma"] = 0
    sim = Simulator(SimConfig.model_validate(sim_cfg))
    load = os.getloadavg()
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; 1 thread per side"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        folder = tmp / "frames"
        folder.mkdir()
        for i in range(args.frames):
            cv2.imwrite(str(folder / f"{i:06d}.png"), sim.frame(HELD_OUT_START + i).image)
        frames: list[np.ndarray] = []
        for png in sorted(folder.glob("*.png")):
            image = cv2.imread(str(png))
            assert image is not None, png
            frames.append(image)
        h, w = frames[0].shape[:2]
        print(f"frames={len(frames)} ({w}x{h}) held-out simulator frames, rounds={args.rounds}")
        for name in args.models.split(","):
            bench_model(MODELS[name.strip()](Path(args.cache)), frames, folder, args, tmp)
        if args.bootstrap and args.publish_records:
            rates = publish_rates(args.bootstrap, tmp, args.publish_records)
            raw = rates["raw kafka-python"]
            for name, rate in rates.items():
                print(f"publish 50 KB {name:17s} {rate:8.0f}/s  ratio to raw {rate / raw:.2f}")
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
