"""Edge agent benchmark, printed as ratios in one run.

    python bench/bench_agent.py --frames 300 [--bootstrap HOST:PORT] [--pt M.pt --onnx M.onnx --imgsz N]

- agent fps / bare onnxruntime loop fps (goal >= 0.90), on the same frames and model (the tiny model)
- agent fps / ultralytics predict fps (goal >= 1.5), both on one CPU thread
- frame -> reject-signal latency p50/p99 over the FAIL frames (default detector and rules, log sink)
- publish rate of 50 KB frames: our EventProducer and the agent's Publisher / a raw kafka-python producer
  with the same settings (acks=all, idempotent, linger 5 ms, 256 KB batches; needs --bootstrap)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.detect.letterbox import letterbox, to_tensor
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.publish.buffer import PRIO_FRAME, DiskBuffer, OutRecord
from edge_agent.publish.publisher import Publisher
from edge_agent.settings import AgentSettings
from edge_agent.stats import AgentStats
from factoryloop.settings import KafkaSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support (the tiny model)


def bare_fps(onnx: Path, imgsz: int, frames: list[np.ndarray]) -> float:
    det = OnnxDetector(onnx, DetectorOptions(imgsz=imgsz, threads=1))
    det.warmup(3)
    t0 = time.perf_counter()
    for f in frames:
        boxed, _ = letterbox(f, imgsz)
        det.session.run(None, {det.input_name: to_tensor(boxed)})
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
    onnx: Path, imgsz: int, count: int, bootstrap: str | None, tmp: Path, sim: dict[str, Any], fps: float
) -> tuple[float, Agent]:
    """The whole agent on the same simulated frames as the loops (``sim``: the simulator's settings).

    Returns frames inspected per second from start until the last frame's verdict (not counting the
    publish tail), and the stopped agent. ``fps`` 0: as fast as possible, every frame queued (throughput);
    else the camera's rate (latency). Without ``bootstrap`` every record goes to the disk buffer.
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
            "source": {
                "type": "simulated",
                "fps": fps,
                "seed": sim["seed"],
                "start": 10_000,
                "max_frames": count,
                "sim": sim,
            },
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
    t0 = time.perf_counter()
    agent.start()
    while agent.stats.get("frames_inspected") + agent.stats.get("frames_dropped") < count:
        time.sleep(0.002)
    measured = agent.stats.get("frames_inspected") / (time.perf_counter() - t0)
    agent.wait()
    agent.close(timeout_s=15)
    return measured, agent


def _rate(send: Callable[[], object], flush: Callable[[], object], n: int, warmup: int = 100) -> float:
    for _ in range(warmup):
        send()
    flush()
    t0 = time.perf_counter()
    for _ in range(n):
        send()
    flush()
    return n / (time.perf_counter() - t0)


def _raw_rate(bootstrap: str, topic: str, payload: bytes, n: int) -> float:
    from kafka import KafkaProducer

    raw = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
    try:
        return _rate(lambda: raw.send(topic, payload, key=b"k"), raw.flush, n)
    finally:
        raw.close()


def _event_producer_rate(settings: KafkaSettings, topic: str, payload: bytes, n: int) -> float:
    from factoryloop.kafka import EventProducer

    with EventProducer(settings) as ours:
        return _rate(lambda: ours.send_raw(topic, payload, key=b"k"), ours.flush, n)


def _publisher_rate(settings: KafkaSettings, topic: str, payload: bytes, n: int, tmp: Path) -> float:
    pub = Publisher(settings, DiskBuffer(tmp / f"pubbuf{uuid.uuid4().hex[:6]}", 1 << 30), AgentStats())
    pub.start()
    try:
        while not pub.connected:
            time.sleep(0.05)
        record = OutRecord(topic, b"k", payload, (), PRIO_FRAME)
        return _rate(lambda: pub.send(record), lambda: pub.flush(60), n)
    finally:
        pub.close()


def publish_rates(bootstrap: str, tmp: Path, n: int = 2000, rounds: int = 3) -> dict[str, float]:
    """Records/s of 50 KB frames, best of ``rounds`` (the three producers interleaved, order rotated)."""
    from factoryloop.kafka import ensure_topics
    from factoryloop.topics import TopicRole

    payload = os.urandom(50 * 1024)
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    ensure_topics(settings, replication_factor=1)
    topic = settings.topics[TopicRole.FRAMES]
    runs: dict[str, Callable[[], float]] = {
        "raw kafka-python": lambda: _raw_rate(bootstrap, topic, payload, n),
        "EventProducer": lambda: _event_producer_rate(settings, topic, payload, n),
        "agent Publisher": lambda: _publisher_rate(settings, topic, payload, n, tmp),
    }
    best = dict.fromkeys(runs, 0.0)
    names = list(runs)
    for r in range(rounds):  # the order rotates each round: whoever runs first is not favoured
        for name in names[r % len(names) :] + names[: r % len(names)]:
            best[name] = max(best[name], runs[name]())
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--bootstrap", default=None, help="Kafka for the publish benchmark (else skipped)")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "factoryloop" / "test-models"))
    ap.add_argument("--pt", type=Path, help="another model than the tiny model (with --onnx, --imgsz)")
    ap.add_argument("--onnx", type=Path)
    ap.add_argument("--imgsz", type=int, default=224)
    ap.add_argument("--publish-records", type=int, default=2000)
    ap.add_argument("--camera-fps", type=float, default=30.0, help="frame rate of the latency run")
    args = ap.parse_args()
    from factoryloop.sim.config import SimConfig
    from factoryloop.sim.render import Simulator
    from tests.support.models import TINY_SIM, tiny_model

    if args.pt and args.onnx:
        pt, onnx, imgsz = args.pt, args.onnx, args.imgsz
    else:
        model = tiny_model(Path(args.cache))
        pt, onnx, imgsz = model.pt, model.onnx, model.imgsz
    sim_cfg = TINY_SIM.model_dump(mode="json")
    sim_cfg["camera"]["noise_sigma"] = 0
    sim = Simulator(SimConfig.model_validate(sim_cfg))
    frames = [sim.frame(10_000 + i).image for i in range(args.frames)]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bare = bare_fps(onnx, imgsz, frames)
        ultra = ultralytics_fps(pt, imgsz, frames)
        agent_fps, agent = agent_run(onnx, imgsz, args.frames, args.bootstrap, tmp / "a", sim_cfg, 0)
        _, paced = agent_run(onnx, imgsz, args.frames, args.bootstrap, tmp / "b", sim_cfg, args.camera_fps)
        p50, p99 = paced.stats.reject_ms.percentiles(50, 99)
        h, w = frames[0].shape[:2]
        print(f"frames={args.frames} ({w}x{h}) imgsz={imgsz} cpu_threads=1 model={onnx}")
        print(f"bare onnxruntime fps      {bare:8.1f}")
        print(f"ultralytics predict fps   {ultra:8.1f}")
        print(f"agent fps                 {agent_fps:8.1f}  (dropped {agent.stats.get('frames_dropped')})")
        print(f"agent/bare ratio          {agent_fps / bare:8.2f}  (goal >= 0.90)")
        print(f"agent/ultralytics ratio   {agent_fps / ultra:8.2f}  (goal >= 1.5)")
        fails = paced.stats.get("verdict:FAIL")
        if p50 is not None and p99 is not None:
            print(
                f"frame->reject p50/p99 ms  {p50:8.1f} / {p99:.1f}  "
                f"(camera at {args.camera_fps:g} fps, {fails} FAIL frames signalled)"
            )
        if args.bootstrap:
            rates = publish_rates(args.bootstrap, tmp, args.publish_records)
            raw = rates["raw kafka-python"]
            for name, rate in rates.items():
                print(f"publish 50 KB {name:17s} {rate:8.0f}/s  ratio to raw {rate / raw:.2f}")


if __name__ == "__main__":
    main()
