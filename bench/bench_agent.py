"""Edge agent benchmark, printed as ratios in one run.

    python bench/bench_agent.py --frames 300 [--bootstrap HOST:PORT]

- agent fps / bare onnxruntime loop fps (goal >= 0.90), on the same frames and model (the tiny model)
- agent fps / ultralytics predict fps (goal >= 1.5)
- frame -> reject-signal latency p50/p99 (log sink, every frame FAIL at threshold 0)
- publish rate of 50 KB frames: our Publisher / raw kafka-python producer (needs --bootstrap)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.detect.letterbox import letterbox, to_tensor
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.publish.buffer import PRIO_FRAME, DiskBuffer, OutRecord
from edge_agent.publish.publisher import Publisher
from edge_agent.settings import AgentSettings
from edge_agent.stats import AgentStats


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


def agent_run(onnx: Path, imgsz: int, count: int, bootstrap: str, tmp: Path) -> tuple[float, Agent]:
    cfg = parse_config(
        {
            "agent_id": "bench",
            "line_id": "bench",
            "station_id": "s1",
            "source": {
                "type": "simulated",
                "fps": 0,
                "seed": 3,
                "start": 10_000,
                "max_frames": count,
                "sim": {"camera": {"noise_sigma": 0}},
            },
            "detector": {"onnx": str(onnx), "imgsz": imgsz, "threads": 1, "conf": 0.0},
            "rules": {"default": {"confidence": 0.0}},
            "sinks": [{"type": "log", "level": "DEBUG", "queue_size": 1024}],
            "sampling": {"fail": False, "uncertain": False, "rare_class_min_count": 0, "pass_rate": 0.0},
            "buffer": {"dir": str(tmp / "buf")},
            "deployments": {"enabled": False},
            "kafka": {"bootstrap_servers": bootstrap, "topic_prefix": f"bench{uuid.uuid4().hex[:6]}."},
        }
    )
    agent = Agent(cfg, AgentSettings(state_dir=tmp / "state"))
    agent.start()
    t0 = time.perf_counter()
    agent.wait()
    fps = agent.stats.get("frames_inspected") / (time.perf_counter() - t0)
    agent.close(timeout_s=5)
    return fps, agent


def publish_ratio(bootstrap: str, tmp: Path, n: int = 2000) -> tuple[float, float]:
    from kafka import KafkaProducer

    from factoryloop.kafka import ensure_topics
    from factoryloop.settings import KafkaSettings
    from factoryloop.topics import TopicRole

    payload = os.urandom(50 * 1024)
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    ensure_topics(settings, replication_factor=1)
    topic = settings.topics[TopicRole.FRAMES]
    raw = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
    t0 = time.perf_counter()
    for _ in range(n):
        raw.send(topic, payload, key=b"k")
    raw.flush()
    raw_rate = n / (time.perf_counter() - t0)
    raw.close()
    pub = Publisher(settings, DiskBuffer(tmp / "pubbuf", 1 << 30), AgentStats())
    pub.start()
    while not pub.connected:
        time.sleep(0.05)
    t0 = time.perf_counter()
    for _ in range(n):
        pub.send(OutRecord(topic, b"k", payload, (), PRIO_FRAME))
    pub.flush(60)
    ours = n / (time.perf_counter() - t0)
    pub.close()
    return ours, raw_rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--bootstrap", default=None, help="Kafka for the publish benchmark (else skipped)")
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "factoryloop" / "test-models"))
    args = ap.parse_args()
    from factoryloop.sim.config import SimConfig
    from factoryloop.sim.render import Simulator
    from tests.support.models import TINY_SIM, tiny_model

    model = tiny_model(Path(args.cache))
    sim = Simulator(SimConfig.model_validate({**TINY_SIM.model_dump(), "camera": {"noise_sigma": 0}}))
    frames = [sim.frame(10_000 + i).image for i in range(args.frames)]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bare = bare_fps(model.onnx, model.imgsz, frames)
        ultra = ultralytics_fps(model.pt, model.imgsz, frames)
        agent_fps, agent = agent_run(
            model.onnx, model.imgsz, args.frames, args.bootstrap or "127.0.0.1:1", tmp
        )
        p50, p99 = agent.stats.reject_ms.percentiles(50, 99)
        print(f"frames={args.frames} imgsz={model.imgsz} cpu_threads=1")
        print(f"bare onnxruntime fps      {bare:8.1f}")
        print(f"ultralytics predict fps   {ultra:8.1f}")
        print(f"agent fps                 {agent_fps:8.1f}  (dropped {agent.stats.get('frames_dropped')})")
        print(f"agent/bare ratio          {agent_fps / bare:8.2f}  (goal >= 0.90)")
        print(f"agent/ultralytics ratio   {agent_fps / ultra:8.2f}  (goal >= 1.5)")
        print(f"frame->reject p50/p99 ms  {p50:8.1f} / {p99:.1f}")
        if args.bootstrap:
            ours, raw = publish_ratio(args.bootstrap, tmp)
            print(f"publish 50KB: ours {ours:.0f}/s raw {raw:.0f}/s ratio {ours / raw:.2f}")


if __name__ == "__main__":
    main()
