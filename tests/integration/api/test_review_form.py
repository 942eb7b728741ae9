"""The dashboard's correction form refuses malformed drawn boxes (422) before anything is published."""

from __future__ import annotations

import pytest

from api.frames.store import LocalFrameStore
from api.security import COOKIE_NAME, Role
from api.sink.writer import SinkWriter
from tests.support.events import detection, outcome


@pytest.mark.parametrize(
    "fields",
    [
        {"new_box_0": "1,2,3", "new_class_0": "dent"},  # three numbers
        {"new_box_0": "a,b,c,d", "new_class_0": "dent"},
        {"new_box_0": "-5,0,10,10", "new_class_0": "dent"},  # negative coordinate
        {"new_box_0": "1,2,3,4,5", "new_class_0": "dent"},
    ],
)
def test_malformed_drawn_boxes_are_422(api_factory, fields: dict) -> None:
    api = api_factory(None)
    ctx = api.client.app.state.ctx
    o = outcome(verdict="UNCERTAIN", sample_reason="uncertain", detections=(detection(),))
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write([o])
    api.client.cookies.set(COOKIE_NAME, api.tokens[Role.SUPERVISOR])
    resp = api.client.post(
        f"/ui/review/{o.event_id}", data={"action": "correct", **fields}, follow_redirects=False
    )
    assert resp.status_code == 422, resp.text
    assert api.get(f"/api/v1/inspections/{o.event_id}").json()["reviews"] == []  # nothing was recorded
