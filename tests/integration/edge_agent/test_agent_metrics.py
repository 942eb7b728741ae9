"""Prometheus /metrics scraped while the agent runs on the real broker; camera health in its heartbeats."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.agent import Agent
from edge_agent.settings import AgentSettings
from factoryloop.schemas import Heartbeat
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.edge_agent.support import agent_config, read_topic, wait_until
from tests.support.edge_onnx import fail_model

pytest.importorskip("onnx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """``{sample name{labels}: value}``; fails on an invalid exposition or a metric family declared twice."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), f"metric families declared twice: {names}"
    out: dict[str, float] = {}
    for family in families:
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def test_metrics_endpoint_counts_during_a_run(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    port, total = free_port(), 90
    cfg = agent_config(
        kafka_settings,
        fail_model(tmp_path / "fail.onnx"),
        tmp_path,
        source={"fps": 30, "max_frames": total},
        sinks=[{"type": "log", "name": "plc", "level": "DEBUG"}],
        metrics_port=port,
        pipeline={"capture_queue": 90},  # a loaded CI machine may lag: keep every frame, exact counts
    )
    agent = Agent(cfg, AgentSettings(state_dir=tmp_path / "state"))
    agent.start()
    try:
        wait_until(lambda: agent.stats.get("frames_inspected") >= 20, 30, "20 frames")
        during = scrape(port)
        beat = agent.heartbeat()  # the buffer's budget travels with its fill (the API's buffer_full alert)
        assert beat.buffer_max_bytes == cfg.buffer.max_bytes and beat.buffer_bytes <= beat.buffer_max_bytes
        assert beat.frames_stale == 0  # a replayed source replaces nothing (live cameras: test_rtsp_source)
        assert agent.wait(60)
        time.sleep(1.5)  # the publish thread and the producer acknowledge the last outcomes
        after = scrape(port)
    finally:
        agent.close()
    p = "factoryloop_agent_"
    assert 20 <= during[f"{p}frames_inspected_total"] < total
    assert during[f"{p}frames_captured_total"] >= during[f"{p}frames_inspected_total"]
    assert during[f"{p}inference_latency_ms{{quantile=0.5}}"] > 0
    assert after[f"{p}frames_captured_total"] == after[f"{p}frames_inspected_total"] == total
    assert after[f"{p}verdicts_total{{verdict=FAIL}}"] == total
    assert after[f"{p}defects_total{{class=dent,verdict=FAIL}}"] == total  # rate per class
    info = next(k for k in after if k.startswith(f"{p}info{{"))
    assert f"agent_id={cfg.agent_id}" in info and f"line_id={cfg.line_id}" in info and "version=" in info
    assert during[f"{p}buffer_max_bytes"] == cfg.buffer.max_bytes
    assert during[f"{p}camera_connected"] == 1 and during[f"{p}camera_frozen"] == 0
    assert after[f"{p}outcomes_total"] == total and after[f"{p}frames_sent_total"] == total  # FAIL: sampled
    assert after[f"{p}published_total"] >= 2 * total  # outcomes + frames (+ heartbeats, events)
    assert after[f"{p}frames_dropped_total"] == after[f"{p}errors_total"] == 0
    reject_p50, reject_p99 = (after[f"{p}reject_latency_ms{{quantile={q}}}"] for q in ("0.5", "0.99"))
    assert reject_p99 >= reject_p50 > 0
    assert after[f"{p}sink_sent_total{{sink=plc}}"] == total
    assert after[f"{p}frames_corrupt_total"] == 0 and after[f"{p}source_reconnects_total"] == 0
    assert after[f"{p}frames_stale_total"] == 0
    assert f"{p}buffer_records" in after and f"{p}queue_capture" in after
    for name in ("frames_inspected_total", "published_total"):
        assert after[p + name] >= during[p + name]  # counters only go up

    # Camera health of the same run in its heartbeats: the simulated belt is lit, in focus, moving.
    beats = [b for b in read_topic(kafka_settings, TopicRole.HEARTBEATS) if isinstance(b, Heartbeat)]
    running = [b.camera for b in beats if b.camera.connected]
    assert running and not beats[-1].camera.connected  # the last one is sent after the source ended
    camera = running[-1]
    assert not camera.frozen and camera.reconnects == 0
    assert camera.brightness is not None and 30 < camera.brightness < 230
    assert camera.blur_score is not None and camera.blur_score > 10
