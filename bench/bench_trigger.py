"""Triggered station benchmark: trigger -> reject-signal latency and the ejector's timing, in one run.

    python bench/bench_trigger.py [--rates 10,30,60] [--seconds 10] [--model tiny-int8] [--ejector-ms 200]

The agent runs as in production (rules, the INT8 tiny model of the tests on one onnxruntime thread, outcomes
published; without Kafka they go to its disk buffer, the same in every mode) on held-out simulator frames
replayed from memory (folder source, ``preload``). Its one sink takes every verdict and records when it sends
each signal (a recording :class:`Sink`: the moment a PLC write would start). For each parts-per-second rate:

- **free-running** (the baseline): the camera at that rate, no trigger; frame capture -> signal latency.
- **triggered**: the software ``timer`` trigger at that rate, no ejector (a part's signal goes out at its
  verdict); trigger -> signal latency, against the model's own latency (inference p99) in the same run.
  Goal: p99 <= model p99 + 10 ms.
- **ejector**: the same with ``ejector.delay_ms`` (default 200) and ``window_ms`` = a quarter period - 1 ms
  (24 / 7.3 / 3.2 ms at 10 / 30 / 60 per second: how late a reject may be and still hit); the firing error
  (signal sent - part at the ejector), and on a belt whose parts cover half the pitch (the conveyor geometry
  of ``factoryloop.sim.conveyor``) how many signals would hit another part than theirs (goal 0) or a gap
  (fired too late or too early for their part, which then goes through), late rejects, missed parts.

Latencies p50 / p99 / max in ms; every mode's parts are also counted (triggered, signalled) so that a
dropped part shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo (edge_agent, tests.support)
os.environ.setdefault("YOLO_OFFLINE", "true")

import cv2
import numpy as np

from bench.agent_models import MODELS
from edge_agent.agent import Agent
from edge_agent.config import parse_config
from edge_agent.settings import AgentSettings
from edge_agent.sinks.base import RejectSignal, Sink
from edge_agent.triggers.base import TriggerEvent
from factoryloop.sim.conveyor import Conveyor, ConveyorConfig
from factoryloop.sim.render import Simulator
from tests.support.models import HELD_OUT_START, TINY_SIM

ALL_VERDICTS = ["PASS", "FAIL", "UNCERTAIN"]


class Recorder(Sink):
    """Records each signal and when it was sent (time.monotonic())."""

    name = "bench"

    def __init__(self) -> None:
        self.sent: list[tuple[RejectSignal, float]] = []

    def send(self, signal: RejectSignal) -> None:
        self.sent.append((signal, time.monotonic()))


@dataclass
class Run:
    mode: str
    rate: float
    latencies_ms: list[float]
    model_ms: tuple[float, float]  # inference p50, p99
    parts: int
    signals: int
    wrong_part: int = 0
    gap: int = 0  # fired when no part was in front of the ejector (its own had passed or not arrived)
    late: int = 0
    missed: int = 0


def pct(values: list[float]) -> str:
    if not values:
        return "-"
    a = np.asarray(values)
    return f"{np.percentile(a, 50):6.1f} / {np.percentile(a, 99):6.1f} / {a.max():6.1f}"


def window_ms(rate: float) -> float:
    """How late a reject may fire and still hit its part on the bench's belt: parts cover half the pitch, so
    the ejector reaches a part +-1/4 period around its centre; 1 ms of that is left for the sink's write."""
    return max(0.0, 1000 / rate / 4 - 1)


def config(frames_dir: Path, tmp: Path, onnx: Path, rate: float, mode: str, ejector_ms: float) -> Any:
    data: dict[str, Any] = {
        "agent_id": "bench",
        "line_id": "bench",
        "station_id": "s1",
        "source": {"type": "folder", "path": str(frames_dir), "preload": True, "loop": True, "fps": 0},
        "detector": {"onnx": str(onnx), "threads": 1},
        "sinks": [{"type": "log", "name": "bench", "verdicts": ALL_VERDICTS, "queue_size": 1024}],
        "sampling": {"pass_rate": 0.0, "fail": False, "uncertain": False, "rare_class_min_count": 0},
        "buffer": {"dir": str(tmp / f"buffer-{mode}-{rate}")},
        "kafka": {"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "bench."},
        "deployments": {"enabled": False},
        "heartbeat_interval_s": 60,
    }
    if mode == "free-running":
        data["source"]["fps"] = rate
    else:
        data["trigger"] = {"type": "timer", "period_s": 1.0 / rate}
    if mode == "ejector":
        data["ejector"] = {"delay_ms": ejector_ms, "window_ms": window_ms(rate)}
    return parse_config(data)


def run(
    frames_dir: Path, tmp: Path, onnx: Path, rate: float, mode: str, seconds: float, ejector_ms: float
) -> Run:
    agent = Agent(
        config(frames_dir, tmp, onnx, rate, mode, ejector_ms), AgentSettings(state_dir=tmp / "state")
    )
    recorder = Recorder()
    agent.sinks[0].sink = recorder
    triggers: dict[str, TriggerEvent] = {}
    if agent.triggered is not None:
        timer = agent.triggered.capture.trigger.trigger
        wait = timer.wait

        def recording_wait(timeout_s: float) -> TriggerEvent | None:
            event = wait(timeout_s)
            if event is not None:
                triggers[event.part_id] = event
            return event

        timer.wait = recording_wait  # type: ignore[method-assign]
    agent.start()
    time.sleep(seconds)
    agent.stop()
    agent.wait(30)
    model_ms = agent.stats.inference_ms.percentiles(50, 99)
    agent.close()
    sent = recorder.sent
    out = Run(
        mode,
        rate,
        [],
        (model_ms[0] or 0.0, model_ms[1] or 0.0),
        agent.stats.get("frames_captured"),
        len(sent),
    )
    if mode == "free-running":
        out.latencies_ms = [(t - s.captured_mono) * 1000 for s, t in sent]
        return out
    out.parts = len(triggers)
    if mode == "triggered":
        out.latencies_ms = [(t - triggers[s.item_id or ""].at_mono) * 1000 for s, t in sent]
        return out
    # the belt: parts one period apart, half the pitch long, the ejector at ejector_ms after the trigger
    period = 1.0 / rate
    speed = 1000.0  # mm/s: only the ratios matter
    pitch, length = speed * period, speed * period / 2
    belt = Conveyor(
        ConveyorConfig(
            speed_mm_s=speed,
            pitch_mm=pitch,
            part_length_mm=length,
            ejector_mm=speed * ejector_ms / 1000 - length / 2,
        ),
        TINY_SIM,
    )
    first = triggers.get("part-1")
    assert first is not None, "no part triggered"
    for signal, t in sent:
        ev = triggers[signal.item_id or ""]
        out.latencies_ms.append((t - (ev.at_mono + ejector_ms / 1000)) * 1000)  # firing error
        hit = belt.hit(t - first.at_mono)
        if hit is None:
            out.gap += 1
        elif hit.part_id != signal.item_id:
            out.wrong_part += 1
    out.late, out.missed = agent.stats.get("late_rejects"), agent.stats.get("missed_parts")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="10,30,60", help="parts (or frames) per second")
    ap.add_argument("--seconds", type=float, default=10.0, help="per mode and rate")
    ap.add_argument("--model", default="tiny-int8", choices=sorted(MODELS))
    ap.add_argument("--ejector-ms", type=float, default=200.0)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/factoryloop/test-models")
    args = ap.parse_args()
    model = MODELS[args.model](args.cache)
    load = os.getloadavg()[0]
    print(f"model: {model.name}, {model.onnx.name}; load average {load:.1f}; {os.cpu_count()} CPUs")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="fl-bench-trigger-") as d:
        tmp = Path(d)
        frames_dir = tmp / "frames"
        frames_dir.mkdir()
        sim = Simulator(TINY_SIM)
        for i in range(64):
            cv2.imwrite(str(frames_dir / f"{i:04d}.png"), sim.frame(HELD_OUT_START + i).image)
        for rate in (float(r) for r in args.rates.split(",")):
            for mode in ("free-running", "triggered", "ejector"):
                runs.append(run(frames_dir, tmp, model.onnx, rate, mode, args.seconds, args.ejector_ms))
                r = runs[-1]
                print(f"  {mode:12s} {rate:4.0f}/s: {r.signals} signals of {r.parts} parts", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    print(
        "rate | free-running frame->signal p50/p99/max | triggered trigger->signal p50/p99/max"
        " | model p50/p99"
        " | goal p99 <= model p99 + 10 | ejector firing error p50/p99/max | wrong part | gap | late | missed"
    )
    for rate in sorted({r.rate for r in runs}):
        free, trig, ej = (
            next(r for r in runs if r.rate == rate and r.mode == m)
            for m in ("free-running", "triggered", "ejector")
        )
        p99 = float(np.percentile(trig.latencies_ms, 99)) if trig.latencies_ms else float("inf")
        goal = trig.model_ms[1] + 10
        print(
            f"{rate:3.0f}/s | {pct(free.latencies_ms)} | {pct(trig.latencies_ms)} | "
            f"{trig.model_ms[0]:.1f} / {trig.model_ms[1]:.1f} | "
            f"{p99:.1f} <= {goal:.1f}: {'met' if p99 <= goal else 'NOT met'} | "
            f"{pct(ej.latencies_ms)} | {ej.wrong_part} of {ej.signals} | {ej.gap} | {ej.late} | {ej.missed}"
        )
        base = float(np.percentile(free.latencies_ms, 99)) if free.latencies_ms else float("nan")
        print(
            f"      triggered / free-running p99: {p99 / base:.2f}; "
            f"signals {free.signals} / {trig.signals} / "
            f"{ej.signals} of parts {free.parts} / {trig.parts} / {ej.parts}"
        )


if __name__ == "__main__":
    main()
