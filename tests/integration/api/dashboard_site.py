"""A site for the dashboard tests: a plate product with its class map, a day of outcomes on two lines (real
rendered frames with their true defect boxes for the FAILs), three agents (one healthy, one with a blurred
camera and a nearly full buffer, one offline), the product's models in a real MLflow with the gate's tags, a
canary in flight, and alerts fired by the real evaluator. ``expected_*`` aggregate the seeded outcomes in
Python, independently of the API (the shifts with ``zoneinfo``)."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import yaml
from mlflow.tracking import MlflowClient

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.products import ProductCatalog
from factoryloop.schemas import (
    Box,
    CameraHealth,
    FramePayload,
    ModelRef,
    Outcome,
    RolloutEvent,
    RolloutRequest,
    RolloutState,
)
from factoryloop.sim.classes import DEFECT_CLASSES, ensure_simulated_product
from factoryloop.sim.render import Simulator
from tests.support.events import detection, frame, heartbeat, outcome

PRODUCT = "plate"
TIMEZONE = "Europe/Berlin"
SHIFTS = [
    {"name": "early", "start": "06:00", "end": "14:00"},
    {"name": "late", "start": "14:00", "end": "22:00"},
    {"name": "night", "start": "22:00", "end": "06:00"},
]
STATIONS = [("plate-1", "st-1"), ("plate-1", "st-2"), ("plate-2", "st-1")]
N_OUTCOMES = 72  # one every 17 minutes, the newest 2 minutes before the seed: 20 h of a day
MIB = 1024 * 1024
ALERTS = {
    "rules": [
        {"type": "agent_offline", "name": "agent-offline", "severity": "critical", "after_s": 60},
        {"type": "camera", "name": "camera"},
        {"type": "buffer_full", "name": "edge-buffer", "fraction": 0.8},
    ]
}


@dataclass
class Site:
    outcomes: list[Outcome]
    model_name: str
    seeded_at: datetime


def alerts_file(directory: Path) -> Path:
    path = directory / "alerts.yaml"
    path.write_text(yaml.safe_dump(ALERTS))
    return path


def _defect_frames(n: int) -> list[tuple[bytes, list[tuple[str, Box]]]]:
    """The first ``n`` simulated frames (seed 3) that show a defect: JPEG and true (class, box)es."""
    sim, out, index = Simulator(seed=3), [], 0
    while len(out) < n:
        f = sim.frame(index)
        index += 1
        if not f.boxes:
            continue
        ok, buf = cv2.imencode(".jpg", f.image)
        assert ok
        boxes = [(DEFECT_CLASSES[b.class_id], Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2)) for b in f.boxes]
        out.append((bytes(buf), boxes))
    return out


def _fails(k: int) -> bool:
    """Every 5th outcome, and every 4th of station plate-1/st-2 (its defect rate stands out)."""
    return k % 5 == 0 or (k % 3 == 1 and k % 4 == 0)


def seed_outcomes(writer: SinkWriter, now: datetime) -> list[Outcome]:
    fails = _defect_frames(sum(1 for k in range(N_OUTCOMES) if _fails(k)))
    events: list[Any] = []
    outcomes = []
    for k in range(N_OUTCOMES):
        line, station = STATIONS[k % 3]
        ts = now - timedelta(minutes=2 + 17 * k)
        kw: dict[str, Any] = {"line_id": line, "station_id": station, "agent_id": f"{line}-{station}"}
        kw |= {"ts": ts, "captured_at": ts, "frame_id": f"f-{k}", "product": PRODUCT}
        kw |= {"model": ModelRef(name="factoryloop-plate", version="2", sha256="b" * 64)}
        if _fails(k):
            jpeg, boxes = fails.pop(0)
            sha = hashlib.sha256(jpeg).hexdigest()
            dets = tuple(
                detection(class_id=DEFECT_CLASSES.index(c), class_name=c, confidence=0.9, box=b)
                for c, b in boxes
            )
            o = outcome(verdict="FAIL", frame_sha256=sha, detections=dets, **kw)
            where = {k: kw[k] for k in ("line_id", "station_id", "agent_id", "captured_at", "frame_id")}
            meta = frame(jpeg, outcome_event_id=o.event_id, width=640, height=480, **where)
            events += [o, FramePayload(meta=meta, jpeg=jpeg)]
        elif k % 7 == 3:
            stain = detection(class_id=2, class_name="stain", confidence=0.45)
            o = outcome(verdict="UNCERTAIN", detections=(stain,), **kw)
            events.append(o)
        else:
            o = outcome(verdict="PASS", detections=(), **kw)
            events.append(o)
        outcomes.append(o)
    writer.write(events)
    return outcomes


def seed_agents(writer: SinkWriter, now: datetime) -> None:
    camera = {"connected": True, "brightness": 120.0, "blur_score": 310.0}
    plate = ModelRef(name="factoryloop-plate", version="2", sha256="b" * 64)
    canary = ModelRef(name="factoryloop-plate", version="3", sha256="c" * 64)
    common = {"product": PRODUCT, "uptime_s": 5 * 3600 + 420.0, "buffer_max_bytes": 1024 * MIB}
    writer.write(
        [
            heartbeat(  # healthy; its latency as a float from the agent's histogram
                agent_id="plate-1-st-1",
                line_id="plate-1",
                station_id="st-1",
                ts=now - timedelta(seconds=3),
                model=plate,
                fps=24.95,
                latency_p50_ms=7.9936990000533115,
                latency_p99_ms=43.88531899967347,
                buffer_records=310,
                buffer_bytes=12 * MIB,
                camera=CameraHealth(**camera),
                **common,
            ),
            heartbeat(  # the canary: blurred camera, buffer at 88 % of its budget
                agent_id="plate-1-st-2",
                line_id="plate-1",
                station_id="st-2",
                ts=now - timedelta(seconds=5),
                model=canary,
                fps=23.04,
                latency_p50_ms=9.42,
                latency_p99_ms=61.7,
                buffer_records=41_873,
                buffer_bytes=900 * MIB,
                camera=CameraHealth(**(camera | {"blur_score": 12.3})),
                **common,
            ),
            heartbeat(  # silent for 10 minutes
                agent_id="plate-2-st-1",
                line_id="plate-2",
                station_id="st-1",
                ts=now - timedelta(minutes=10),
                model=plate,
                fps=0.0,
                latency_p50_ms=None,
                latency_p99_ms=None,
                buffer_bytes=1536,
                camera=CameraHealth(connected=False),
                **common,
            ),
        ]
    )


def seed_models(tracking_uri: str) -> str:
    """factoryloop-plate-<id> (tagged product=plate): v1 retired, v2 champion, v3 challenger and canary,
    with the gate's tags as training writes them."""
    client = MlflowClient(tracking_uri=tracking_uri)
    name = f"factoryloop-plate-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name, tags={"product": PRODUCT})
    scores = {
        "2": {"mAP50-95": 0.6123, "mAP50": 0.8841, "precision": 0.902, "recall": 0.871},
        "3": {"mAP50-95": 0.6481, "mAP50": 0.9012, "precision": 0.915, "recall": 0.893},
    }
    for v in ("1", "2", "3"):
        tags = {"product": PRODUCT}
        if v in scores:
            tags |= {f"gate.challenger.{k}": f"{x:.4f}" for k, x in scores[v].items()}
            recalls = {c: 0.8 + 0.02 * i for i, c in enumerate(DEFECT_CLASSES)}
            tags |= {f"gate.challenger.recall.{c}": f"{x:.4f}" for c, x in recalls.items()}
            tags |= {"gate.decision": "promote", "gate.reason": f"v{v} beats the champion on the recent set"}
        client.create_model_version(name, source=f"s3://models/{name}/{v}", tags=tags)
    client.set_registered_model_alias(name, "champion", "2")
    client.set_registered_model_alias(name, "challenger", "3")
    client.set_registered_model_alias(name, "canary", "3")
    return name


def seed_rollouts(writer: SinkWriter, model_name: str, now: datetime) -> None:
    base: dict[str, Any] = {"product": PRODUCT, "model_name": model_name, "stages": 3}
    old, new, asked = "r" * 16, "s" * 16, uuid.uuid4().hex
    writer.write(
        [
            RolloutEvent(rollout_id=old, model_version="2", previous_version="1", state=RolloutState.FULL,
                         stage=2, reason="all stages passed", ts=now - timedelta(days=2), **base),
            RolloutRequest(request_id=asked, product=PRODUCT, action="deploy", model_version="3",
                           reason="gate passed", requested_by="trainer", ts=now - timedelta(minutes=40)),
            RolloutEvent(rollout_id=new, model_version="3", previous_version="2", state=RolloutState.CANARY,
                         stage=0, agents=("plate-1-st-2",), reason="canary on one agent", request_id=asked,
                         ts=now - timedelta(minutes=35), **base),
            RolloutEvent(rollout_id=new, model_version="3", previous_version="2", state=RolloutState.CANARY,
                         stage=0, agents=("plate-1-st-2",), reason="canary on one agent", request_id=asked,
                         evidence={"canary_outcomes": 412.0, "canary_fail_rate": 0.0437,
                                   "champion_fail_rate": 0.0512, "latency_p99_ms": 61.7, "reviews": 9.0},
                         ts=now - timedelta(minutes=1), **base),
        ]
    )  # fmt: skip


def seed_history(app: Any, now: datetime) -> None:
    """Five hours of plate-1-st-1 (a heartbeat a minute): v1, silent for 40 minutes, a restart on v2 with a
    slower model, a buffer that filled while Kafka was away and drained, some dropped frames."""
    ctx = app.state.ctx
    writer = SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir))
    station = {"agent_id": "plate-1-st-1", "line_id": "plate-1", "station_id": "st-1", "product": PRODUCT}
    beats = []
    for k in range(300):
        if 150 <= k < 190:
            continue  # silent
        restarted = k >= 190
        beats.append(
            heartbeat(
                **station,
                ts=now - timedelta(minutes=300 - k),
                model=ModelRef(name="factoryloop-plate", version="2" if restarted else "1", sha256="b" * 64),
                uptime_s=60.0 * (k - 190 if restarted else k),
                fps=24.0 + (k % 7) / 10,
                latency_p50_ms=9.0 if restarted else 7.5,
                latency_p99_ms=(48.0 if restarted else 40.0) + (k % 5),
                buffer_records=max(0, 4000 - 100 * (k - 190)) if restarted else 0,
                frames_dropped=(k - 190) // 20 if restarted else k // 30,
                camera=CameraHealth(connected=True),
            )
        )
    writer.write(beats)


def fresh_heartbeats(app: Any) -> None:
    """The agents' heartbeats again, as of now (a page that shows ages runs a while after the seed)."""
    ctx = app.state.ctx
    seed_agents(SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)), datetime.now(UTC))


def seed(app: Any, mlflow_uri: str) -> Site:
    """Everything above into the app's database and the registry; the alert rules evaluated once."""
    ctx = app.state.ctx
    ensure_simulated_product(ProductCatalog(ctx.settings.products_dir), PRODUCT)
    writer = SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir))
    now = datetime.now(UTC)
    outcomes = seed_outcomes(writer, now)
    seed_agents(writer, now)
    model = seed_models(mlflow_uri)
    seed_rollouts(writer, model, now)
    app.state.alerts.evaluator.run_once()
    return Site(outcomes, model, now)


def shift_of(ts: datetime) -> str:
    hour = ts.astimezone(ZoneInfo(TIMEZONE)).hour
    return "early" if 6 <= hour < 14 else "late" if 14 <= hour < 22 else "night"


def expected(outcomes: list[Outcome], key: Any) -> dict[Any, tuple[int, int, int]]:
    """(inspected, FAIL, UNCERTAIN) per ``key(outcome)``."""
    acc: dict[Any, list[int]] = {}
    for o in outcomes:
        t = acc.setdefault(key(o), [0, 0, 0])
        t[0] += 1
        t[1] += o.verdict == "FAIL"
        t[2] += o.verdict == "UNCERTAIN"
    return {k: (v[0], v[1], v[2]) for k, v in acc.items()}


def expected_boxes(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(d.class_name for o in outcomes if o.verdict != "PASS" for d in o.detections)
