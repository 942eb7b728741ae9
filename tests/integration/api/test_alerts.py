"""Alerts end to end in the API process, on SQLite and PostgreSQL: rows written through the sink's writer
make each rule type fire once (evaluator thread, small interval); the notices reach a real local HTTP server
(webhook) and a real SMTP server (aiosmtpd); a failing webhook's failures are recorded; a condition that
clears is resolved and, back within the cool-down, does not fire again; alerts are listed and acknowledged
through the API and the dashboard page. No timing is asserted: every wait is a loop with a generous
deadline."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.frames.store import LocalFrameStore
from api.security import Role
from api.sink.writer import SinkWriter
from factoryloop.schemas import CameraHealth, RolloutEvent, RolloutState, Verdict
from factoryloop.schemas.base import utc_now
from tests.integration.api.helpers import wait_for
from tests.support.events import heartbeat, outcome
from tests.support.local_http import LocalHttp, local_http

controller = pytest.importorskip(
    "aiosmtpd.controller", reason="aiosmtpd is not installed (pip install -e '.[dev]')"
)

RULES = ["agent-offline", "camera", "defects-up", "rolled-back", "buffer", "late"]
DEAD = "dead-hook"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def received(self) -> list[Message]:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = closed_port()  # aiosmtpd's controller checks its port by connecting: it needs a real one
    server = controller.Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=60)
    server.start()
    try:
        yield inbox, port
    finally:
        server.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alerts_file(tmp: Path, hook: LocalHttp) -> Path:
    cooldown = {"cooldown_s": 3600}
    doc = {
        "rules": [
            {
                "type": "agent_offline",
                "name": "agent-offline",
                "severity": "critical",
                "after_s": 300,
                **cooldown,
            },
            {"type": "camera", "name": "camera", "checks": ["blur"], "min_blur_score": 50, **cooldown},
            {
                "type": "defect_rate",
                "name": "defects-up",
                "window_s": 3600,
                "factor": 3,
                "min_inspections": 50,
                "scope": {"line": "L-def"},
                **cooldown,
            },
            {"type": "rollout_rolled_back", "name": "rolled-back", "severity": "info", **cooldown},
            {"type": "buffer_full", "name": "buffer", "fraction": 0.8, **cooldown},
            {"type": "late_rejects", "name": "late", "window_s": 600, "max_count": 1, **cooldown},
        ],
        "channels": [
            {"type": "webhook", "name": "ops", "url": f"{hook.url}/hooks/alerts"},
            {"type": "email", "name": "shift", "to": ["lead@example.com"]},
            {
                "type": "webhook",
                "name": DEAD,
                "url": f"http://127.0.0.1:{closed_port()}/x",
                "retries": 1,
                "backoff_s": 0.05,
                "timeout_s": 2,
                "rules": ["agent-offline"],
                "events": ["fired"],
            },
        ],
    }
    path = tmp / "alerts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def write_site(writer: SinkWriter) -> None:
    """One condition of each rule, as the sink would store it."""
    now = utc_now()
    hb = heartbeat
    writer.write(
        [
            hb(agent_id="off", line_id="L-off", ts=now - timedelta(seconds=900)),
            hb(agent_id="cam", line_id="L-cam", camera=CameraHealth(connected=True, blur_score=4.0)),
            hb(agent_id="buf", line_id="L-buf", buffer_bytes=950 * 2**20),
            hb(agent_id="late", line_id="L-late", uptime_s=60.0, late_rejects=2, missed_parts=1),
        ]
    )
    base = [
        outcome(
            line_id="L-def",
            ts=now - timedelta(hours=3),
            verdict=Verdict.FAIL if i < 2 else Verdict.PASS,
            detections=(),
        )
        for i in range(100)
    ]  # 2 % in the hours before
    recent = [
        outcome(
            line_id="L-def",
            ts=now - timedelta(seconds=30),
            verdict=Verdict.FAIL if i < 20 else Verdict.PASS,
            detections=(),
        )
        for i in range(80)
    ]  # 25 % now
    writer.write(base + recent)
    writer.write(
        [
            RolloutEvent(
                rollout_id="r" * 16,
                product="plate",
                model_name="factoryloop-plate",
                model_version="4",
                previous_version="3",
                state=RolloutState.ROLLED_BACK,
                reason="canary fail rate 0.3",
                evidence={"fail_rate": 0.3},
            )
        ]
    )


def by_rule(api: Any, **params: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in api.get("/api/v1/alerts", params={"limit": 500, **params}).json():
        out.setdefault(a["rule"], []).append(a)
    return out


def test_each_rule_fires_once_is_delivered_resolved_cooled_down_and_acknowledged(
    api_factory, tmp_path: Path, smtp: tuple[_Inbox, int]
) -> None:
    inbox, smtp_port = smtp
    with local_http(tmp_path) as hook:
        api = api_factory(
            None,
            alerts_file=alerts_file(tmp_path, hook),
            alerts_interval_s=0.2,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
        )
        ctx = api.client.app.state.ctx
        runner = api.client.app.state.alerts
        writer = SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir))
        write_site(writer)

        opened = wait_for(
            lambda: (r := by_rule(api, state="open")) and sorted(r) == sorted(RULES) and r,
            what="one open alert per rule",
        )
        assert all(len(v) == 1 for v in opened.values()), opened
        subjects = {k: v[0]["subject"] for k, v in opened.items()}
        assert subjects == {
            "agent-offline": "agent:off",
            "camera": "agent:cam:blur",
            "defects-up": "line:L-def",
            "rolled-back": "product:plate",
            "buffer": "agent:buf",
            "late": "agent:late",
        }
        assert opened["defects-up"][0]["evidence"]["inspections"] == 80
        assert opened["defects-up"][0]["evidence"]["baseline"] == 0.02
        assert opened["late"][0]["evidence"]["count"] == 3
        assert opened["rolled-back"][0]["evidence"]["evidence.fail_rate"] == 0.3

        # Every firing reached the webhook and the SMTP server; the dead webhook's failures are recorded.
        posts = wait_for(lambda: len(p := hook.received()) >= 6 and p, what="six webhook posts")
        assert sorted(p["alert"]["rule"] for p in posts) == sorted(RULES) and {p["event"] for p in posts} == {
            "fired"
        }
        mails = wait_for(lambda: len(m := inbox.received()) >= 6 and m, what="six e-mails")
        assert any("[CRITICAL] agent-offline: agent:off" in str(m["Subject"]) for m in mails)
        assert all(m["To"] == "lead@example.com" for m in mails)
        offline_id = opened["agent-offline"][0]["id"]

        def deliveries() -> dict[str, str] | None:
            a = next(x for x in api.get("/api/v1/alerts").json() if x["id"] == offline_id)
            got = {d["channel"]: d["status"] for d in a["deliveries"]}
            return got if len(got) == 3 else None

        assert wait_for(deliveries, what="three deliveries recorded") == {
            "ops": "sent",
            "shift": "sent",
            DEAD: "failed",
        }

        # The camera recovers: resolved (and told); blurred again within the cool-down: no new firing.
        writer.write(
            [
                heartbeat(
                    agent_id="cam", line_id="L-cam", camera=CameraHealth(connected=True, blur_score=400.0)
                )
            ]
        )
        wait_for(
            lambda: by_rule(api, rule="camera", state="resolved").get("camera"), what="the camera resolved"
        )
        wait_for(
            lambda: any(p["event"] == "resolved" and p["alert"]["rule"] == "camera" for p in hook.received()),
            what="the resolution posted",
        )
        writer.write(
            [heartbeat(agent_id="cam", line_id="L-cam", camera=CameraHealth(connected=True, blur_score=3.0))]
        )
        runs = runner.runs
        wait_for(lambda: runner.runs >= runs + 5, what="five more evaluations")
        assert [a["state"] for a in by_rule(api, rule="camera")["camera"]] == ["resolved"]
        assert sum(p["alert"]["rule"] == "camera" and p["event"] == "fired" for p in hook.received()) == 1
        # The others still hold: still one firing each.
        assert {k: len(v) for k, v in by_rule(api).items()} == dict.fromkeys(RULES, 1)

    # Listed with filters and acknowledged through the API (supervisor or higher).
    assert [a["rule"] for a in api.get("/api/v1/alerts", params={"severity": "critical"}).json()] == [
        "agent-offline"
    ]
    assert api.get("/api/v1/alerts", params={"line": "L-late"}).json()[0]["rule"] == "late"
    assert api.client.post(f"/api/v1/alerts/{offline_id}/ack").status_code == 401
    acked = api.post(f"/api/v1/alerts/{offline_id}/ack", role=Role.SUPERVISOR)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acked_by"] == "supervisor-1" and acked.json()["acked_at"]
    again = api.post(f"/api/v1/alerts/{offline_id}/ack", role=Role.ADMIN)
    assert again.status_code == 409 and "supervisor-1" in again.json()["error"]["message"]
    assert api.post("/api/v1/alerts/999999/ack").status_code == 404
    assert [a["id"] for a in api.get("/api/v1/alerts", params={"acked": "true"}).json()] == [offline_id]

    # The dashboard page (without a browser): listed, acknowledged from its button.
    api.client.cookies.set("fl_token", api.tokens[Role.SUPERVISOR])
    page = api.client.get("/ui/alerts").text
    assert (
        'href="/ui/alerts"' in page and f'data-alert-id="{offline_id}"' in page and "supervisor-1 at" in page
    )
    buffer_id = opened["buffer"][0]["id"]
    assert f'action="/ui/alerts/{buffer_id}/ack"' in page
    cross = api.client.post(f"/ui/alerts/{buffer_id}/ack", headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    sent = api.client.post(f"/ui/alerts/{buffer_id}/ack", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/ui/alerts?acked={buffer_id}"
    page = api.client.get(sent.headers["location"]).text
    assert f"Alert {buffer_id} acknowledged." in page and f'action="/ui/alerts/{buffer_id}/ack"' not in page
    assert api.client.post(f"/ui/alerts/{buffer_id}/ack").status_code == 409


def test_without_an_alerts_file_nothing_runs_and_the_page_says_so(api_factory) -> None:
    api = api_factory(None)
    assert api.client.app.state.alerts is None
    assert api.get("/api/v1/alerts").json() == []
    api.client.cookies.set("fl_token", api.tokens[Role.SUPERVISOR])
    assert 'id="alerts-off"' in api.client.get("/ui/alerts").text
