"""Helpers of the review page tests: the page's JSON data, and queued frames of a simulated plate line
(real rendered JPEGs of the product ``plate``) stored with their outcomes."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import cv2

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.products import ProductCatalog
from factoryloop.schemas import Box, FramePayload, Outcome, utc_now
from factoryloop.sim.classes import DEFECT_CLASSES, ensure_simulated_product
from factoryloop.sim.render import Simulator
from tests.support.events import detection, frame, outcome

PRODUCT = "plate"
SEED = 3  # frame 19 of this seed shows a scratch and a stain, frame 10 a scratch, frame 5 a dent


def page_data(html: str) -> dict[str, Any]:
    """The JSON the review page's script reads (first batch, count left, pace, shown_at)."""
    found = re.search(r'<script type="application/json" id="review-data">(.*?)</script>', html, re.S)
    assert found is not None, "no review data on the page"
    return dict(json.loads(found[1]))


def sim_frame(index: int) -> tuple[bytes, list[Box]]:
    """Frame ``index`` of the simulated line as a JPEG, and its true defect boxes."""
    f = Simulator(seed=SEED).frame(index)
    ok, buf = cv2.imencode(".jpg", f.image)
    assert ok
    return bytes(buf), [Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2) for b in f.boxes]


def crowd(box: Box, n: int) -> list[Box]:
    """``n`` overlapping boxes around ``box``, each a little larger than the one before."""
    return [Box(x1=box.x1 - 3 * k, y1=box.y1 - 2 * k, x2=box.x2 + 4 * k, y2=box.y2 + 3 * k) for k in range(n)]


def store_plate_frames(api: Any, frames: list[tuple[int, list[tuple[str, Box, float]]]]) -> list[Outcome]:
    """Create product ``plate`` (the simulator's classes) and store, oldest first, one UNCERTAIN outcome
    per (sim frame index, model boxes as (class, box, confidence)) with its JPEG: each one is queued."""
    ensure_simulated_product(ProductCatalog(api.settings.products_dir), PRODUCT)
    ctx = api.client.app.state.ctx
    t0 = utc_now() - timedelta(minutes=len(frames))
    events: list[Any] = []
    outcomes = []
    for k, (index, boxes) in enumerate(frames):
        jpeg, _ = sim_frame(index)
        o = outcome(
            verdict="UNCERTAIN",
            sample_reason="uncertain",
            product=PRODUCT,
            frame_id=f"f-{index}-{k}",
            ts=t0 + timedelta(minutes=k),
            captured_at=t0 + timedelta(minutes=k),
            frame_sha256=hashlib.sha256(jpeg).hexdigest(),
            detections=tuple(
                detection(class_id=DEFECT_CLASSES.index(c), class_name=c, confidence=conf, box=b)
                for c, b, conf in boxes
            ),
            thresholds={c: 0.5 for c in DEFECT_CLASSES},
        )
        meta = frame(jpeg, outcome_event_id=o.event_id, frame_id=o.frame_id, width=640, height=480)
        events += [o, FramePayload(meta=meta, jpeg=jpeg)]
        outcomes.append(o)
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write(events)
    return outcomes
