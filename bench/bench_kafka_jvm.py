"""CPU a local Kafka broker costs to start, per JVM mode of the stack (``factoryloop.stack.kafka.JVM_MODES``):
``tuned`` (G1, the baseline: what a site runs) against ``light`` (C1 only, serial GC: what ``./dev test``
runs), each started, its topics made and left idle ``--idle-s``, in the same run, alternating.

Run: ``python bench/bench_kafka_jvm.py [--rounds 2] [--idle-s 20]``. Prints the broker process's CPU seconds
(user + system, from /proc) at ready and after the idle time, and light / tuned ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factoryloop.kafka import ensure_topics
from factoryloop.settings import KafkaSettings
from factoryloop.stack.jars import fetch_kafka_jars
from factoryloop.stack.kafka import KafkaCluster
from factoryloop.stack.process import free_ports
from factoryloop.stack.settings import StackSettings


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(jvm: str, jars: Path, idle_s: float) -> tuple[float, float, float]:
    """(seconds to ready, CPU s at ready, CPU s after topics + idle) of one broker start."""
    with tempfile.TemporaryDirectory() as tmp:
        port, cport = free_ports(2)
        cluster = KafkaCluster.create(Path(tmp), jars, [(port, cport)], jvm=jvm)
        started = time.monotonic()
        cluster.start()
        ready = time.monotonic() - started
        pid = int((cluster.nodes[0].node_dir / "kafka.pid").read_text())
        at_ready = _cpu_s(pid)
        ensure_topics(KafkaSettings(bootstrap_servers=cluster.bootstrap, topic_prefix="bench."))
        time.sleep(idle_s)
        after = _cpu_s(pid)
        cluster.stop()
    return ready, at_ready, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args()
    settings = StackSettings()
    jars = fetch_kafka_jars(settings.jars_dir, settings.kafka_version)
    runs: dict[str, list[tuple[float, float, float]]] = {"tuned": [], "light": []}
    for _ in range(args.rounds):
        for jvm in runs:
            runs[jvm].append(one(jvm, jars, args.idle_s))
    med = {jvm: [statistics.median(r[i] for r in rs) for i in range(3)] for jvm, rs in runs.items()}
    for jvm, (ready, cpu_ready, cpu_after) in med.items():
        print(f"{jvm:6s} ready {ready:5.1f} s, CPU at ready {cpu_ready:5.1f} s, idle after {cpu_after:.1f} s")
    t, li = med["tuned"], med["light"]
    ratios = (li[0] / t[0], li[1] / t[1], li[2] / t[2])
    print("light / tuned: ready {:.2f}x, CPU at ready {:.2f}x, after idle {:.2f}x".format(*ratios))


if __name__ == "__main__":
    main()
