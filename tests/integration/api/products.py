"""The product of the API product tests: pcb with a renamed class (dent -> dent_deep) and a merged one
(hole -> pit), and outcomes of it stored with their frames."""

from __future__ import annotations

import hashlib
from typing import Any

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.products import ProductCatalog
from factoryloop.schemas import FramePayload, Outcome
from tests.integration.api.helpers import real_jpeg
from tests.support.events import frame, outcome

# ids 0..3; after the changes the active classes are scratch, dent_deep, pit (hole counts as pit)
ACTIVE = ["scratch", "dent_deep", "pit"]


def make_pcb(products_dir: Any) -> ProductCatalog:
    catalog = ProductCatalog(products_dir)
    catalog.create("pcb", ["scratch", "dent", "pit", "hole"], description="printed circuit boards")
    catalog.update("pcb", lambda p: p.with_class_renamed("dent", "dent_deep"))
    catalog.update("pcb", lambda p: p.with_class_merged("hole", "pit"))
    return catalog


def store(api: Any, seed: int, **kw: Any) -> Outcome:
    """An UNCERTAIN outcome to review, stored with its frame (so it is in the review queue)."""
    jpeg = real_jpeg(seed)
    sha = hashlib.sha256(jpeg).hexdigest()
    o = outcome(verdict="UNCERTAIN", sample_reason="uncertain", frame_sha256=sha, **kw)
    ctx = api.client.app.state.ctx
    payload = FramePayload(meta=frame(jpeg, outcome_event_id=o.event_id), jpeg=jpeg)
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write([o, payload])
    return o
