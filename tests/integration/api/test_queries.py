"""Inspection lists on each backend: cursor pages over equal timestamps, the class filter (each inspection
once however many boxes of the class it has) combined with other filters, in both orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.frames.store import LocalFrameStore
from api.sink.writer import SinkWriter
from factoryloop.schemas import Outcome, Verdict
from tests.support.events import detection, outcome

T0 = datetime(2026, 4, 1, 8, tzinfo=UTC)


def seed(api) -> list[Outcome]:  # type: ignore[no-untyped-def]
    evs = []
    for i in range(40):
        classes = [["dent", "dent", "scratch"], ["scratch"], [], ["crack", "dent"]][i % 4]
        evs.append(
            outcome(
                ts=T0 + timedelta(seconds=i // 3),  # three inspections share each timestamp
                line_id="line-a" if i % 5 else "line-b",
                verdict=Verdict.FAIL if classes else Verdict.PASS,
                shadow=i == 7,
                detections=tuple(detection(class_name=c) for c in classes),
            )
        )
    ctx = api.client.app.state.ctx
    SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir)).write(evs)
    return evs


def pages(api, **params) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    page = {"next_cursor": None}
    while True:
        cursor = {"cursor": page["next_cursor"]} if page["next_cursor"] else {}
        resp = api.get("/api/v1/inspections", params={"limit": 4, **params, **cursor})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        seen += [i["event_id"] for i in page["items"]]
        if not page["next_cursor"]:
            return seen


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({}, lambda e: True),
        ({"class_name": "dent"}, lambda e: any(d.class_name == "dent" for d in e.detections)),
        (
            {"class_name": "scratch", "line_id": "line-a"},
            lambda e: e.line_id == "line-a" and any(d.class_name == "scratch" for d in e.detections),
        ),
        ({"class_name": "crack", "verdict": "PASS"}, lambda e: False),
        ({"line_id": "line-b", "verdict": "FAIL"}, lambda e: e.line_id == "line-b" and e.verdict == "FAIL"),
        (
            {"class_name": "dent", "since": (T0 + timedelta(seconds=4)).isoformat()},
            lambda e: e.ts >= T0 + timedelta(seconds=4) and any(d.class_name == "dent" for d in e.detections),
        ),
    ],
)
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_cursor_pages_with_filters(api_factory, params: dict, keep, order: str) -> None:  # type: ignore[no-untyped-def]
    api = api_factory(None)
    evs = seed(api)
    want = [e.event_id for e in evs if not e.shadow and keep(e)]  # written in (ts, id) order
    assert pages(api, order=order, **params) == (want[::-1] if order == "desc" else want)


def test_class_filter_lists_detections_of_each_inspection_once(api_factory) -> None:
    api = api_factory(None)
    evs = seed(api)
    items = api.get("/api/v1/inspections", params={"class_name": "dent", "limit": 500}).json()["items"]
    assert len({i["event_id"] for i in items}) == len(items) == 19  # 20 with dents, one shadow
    first = next(i for i in items if i["event_id"] == evs[0].event_id)
    assert [d["class_name"] for d in first["detections"]] == ["dent", "dent", "scratch"]
    shadow = api.get(
        "/api/v1/inspections", params={"class_name": "crack", "include_shadow": "true", "limit": 500}
    )
    assert evs[7].event_id in {i["event_id"] for i in shadow.json()["items"]}
