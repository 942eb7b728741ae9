"""Rollout requests without a broker: the validation of POST /rollouts, /deployments and
/deployments/rollback, the rows the sink stores, and the reads (status, rollout in flight, pending requests)
over SQLite."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from api.context import AppContext
from api.db.migrate import upgrade
from api.errors import BadRequestError, NotFoundError, UpstreamError
from api.frames.store import LocalFrameStore
from api.services.rollout_reads import (
    in_flight_id,
    list_rollouts,
    pending_requests,
    product_rollout,
    request_detail,
    status_of,
)
from api.services.rollouts import (
    PromoteIn,
    RollbackIn,
    RolloutIn,
    check,
    from_promotion,
    from_rollback,
    new_request,
)
from api.settings import ApiSettings
from api.sink.rows import to_rows
from api.sink.writer import SinkWriter
from factoryloop.schemas import RolloutAction, RolloutEvent, RolloutRequest, RolloutState

DEPLOY, ROLLBACK = RolloutAction.DEPLOY, RolloutAction.ROLLBACK


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"action": "deploy"}, None),  # the champion, through the stages
        ({"action": "deploy", "model_version": "7", "staged": False}, None),
        ({"action": "rollback"}, None),  # back to the previous champion
        ({"action": "rollback", "to_version": "3", "target": "line-1"}, None),
        ({"action": "deploy", "to_version": "3"}, "to_version is for action 'rollback'"),
        ({"action": "rollback", "model_version": "7"}, "model_version is for action 'deploy'"),
        ({"action": "deploy", "shadow": {"agents": ["a-1"], "sample_rate": 0.5}}, None),
        ({"action": "rollback", "shadow": {}}, "shadow is for action 'deploy'"),
    ],
)
def test_check_refuses_a_field_of_the_other_action(body: dict[str, Any], error: str | None) -> None:
    parsed = RolloutIn(product="pcb", **body)
    if error is None:
        check(parsed)
        req = new_request(parsed, "alice")
        assert req.product == "pcb" and req.requested_by == "alice" and len(req.request_id) == 32
        return
    with pytest.raises(BadRequestError, match=error):
        check(parsed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"product": "has space", "action": "deploy"}, "product"),
        ({"product": "pcb", "action": "promote"}, "action"),
        ({"product": "pcb", "action": "deploy", "model_version": "7/../8"}, "model_version"),
        ({"product": "pcb", "action": "deploy", "target": ""}, "target"),
        ({"product": "pcb", "action": "deploy", "canary_agents": ["a"]}, "canary_agents"),
        ({"product": "pcb", "action": "deploy", "reason": "x" * 1001}, "reason"),
        ({"action": "deploy"}, "product"),
    ],
)
def test_rollout_body_is_validated(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        RolloutIn(**body)
    assert field in {str(e["loc"][0]) for e in info.value.errors()}


PROMOTE = {"model_name": "factoryloop-pcb", "model_version": "4"}


@pytest.mark.parametrize(
    ("body", "tags", "staged", "error"),
    [
        ({}, {"product": "pcb"}, False, None),  # strategy full (the default): straight to every agent
        ({"strategy": "canary"}, {"product": "pcb"}, True, None),  # the product's canary stages
        ({"strategy": "full", "target": "line-2"}, {"product": "pcb"}, False, None),
        ({}, {}, None, "has no 'product' tag"),
        ({}, {"product": " "}, None, "has no 'product' tag"),
        ({}, {"product": "has space"}, None, "invalid 'product' tag"),
        ({"strategy": "shadow"}, {"product": "pcb"}, True, None),  # a shadow stage, then the stages
        (
            {"strategy": "shadow", "canary_agents": ["a-1"], "shadow_sample_rate": 0.5},
            {"product": "pcb"},
            True,
            None,
        ),
        ({"strategy": "shadow", "canary_agents": ["has space"]}, {"product": "pcb"}, None, "invalid shadow"),
        ({"strategy": "canary", "shadow_sample_rate": 0.5}, {"product": "pcb"}, None, "only a shadow"),
        ({"strategy": "rollback"}, {"product": "pcb"}, None, "POST /deployments/rollback"),
        ({"canary_agents": ["agent-1"]}, {"product": "pcb"}, None, "chooses canary_agents"),
        ({"sha256": "a" * 64, "imgsz": 320}, {"product": "pcb"}, None, "chooses imgsz, sha256"),
        ({"product": "pcb"}, {"product": "pcb"}, None, "the product is the version's 'product' tag"),
    ],
)
def test_promotion_becomes_a_deploy_request(
    body: dict[str, Any], tags: dict[str, str], staged: bool | None, error: str | None
) -> None:
    promote = PromoteIn(**PROMOTE, **body)
    if error is not None:
        with pytest.raises(BadRequestError, match=error):
            from_promotion(promote, tags)
        return
    req = from_promotion(promote, tags)
    assert (req.product, req.action, req.model_version, req.staged) == ("pcb", DEPLOY, "4", staged)
    assert req.target == body.get("target", "fleet") and req.to_version is None
    if body.get("strategy") == "shadow":  # the controller is asked for a shadow stage on those agents
        asked = new_request(req, "alice").shadow
        assert asked is not None and asked.agents == tuple(body.get("canary_agents", ()))
        assert asked.sample_rate == body.get("shadow_sample_rate", 1.0)
    else:
        assert req.shadow is None


def test_promotion_refuses_unknown_fields_and_rollback_needs_the_product() -> None:
    with pytest.raises(ValidationError, match="unknown fields"):
        PromoteIn(**PROMOTE, strateggy="canary")
    with pytest.raises(ValidationError):
        RollbackIn(target="line-1")  # type: ignore[call-arg]
    req = from_rollback(RollbackIn(product="pcb", to_version="3", reason="canary looked bad"))
    assert (req.action, req.product, req.to_version, req.model_version) == (ROLLBACK, "pcb", "3", None)


def row(
    kind: str, state: str = "requested", rollout_id: str | None = None, request_id: str | None = None
) -> Any:
    return SimpleNamespace(kind=kind, state=state, rollout_id=rollout_id, request_id=request_id)


REQ, EV = "rollout_request", "rollout_event"


@pytest.mark.parametrize(
    ("rows", "status", "flight", "pending"),
    [
        ([], "requested", None, []),
        ([row(REQ, request_id="q1")], "requested", None, ["q1"]),
        ([row(EV, "canary", "r1", "q1"), row(REQ, request_id="q1")], "canary", "r1", []),
        ([row(EV, "full", "r1"), row(EV, "widened", "r1"), row(EV, "canary", "r1")], "full", None, []),
        ([row(EV, "refused", "r2", "q2"), row(REQ, request_id="q2")], "refused", None, []),
        ([row(EV, "held", "r2"), row(EV, "rolled_back", "r1"), row(EV, "canary", "r1")], "held", "r2", []),
        ([row(EV, "full", "r2"), row(EV, "canary", "r1")], "full", "r1", []),  # r1 never finished
        ([row(REQ, request_id="q3"), row(EV, "requested", "r1", "q1")], "requested", "r1", ["q3"]),
    ],
)
def test_in_flight_and_pending(rows: list[Any], status: str, flight: str | None, pending: list[str]) -> None:
    """``rows`` newest first, as the table is read; ``status_of`` takes them oldest first."""
    assert status_of(list(reversed(rows))) == status
    assert in_flight_id(rows) == flight
    assert [r.request_id for r in pending_requests(rows)] == pending


def event(state: RolloutState, **kw: Any) -> RolloutEvent:
    base: dict[str, Any] = {
        "rollout_id": "r" * 16,
        "product": "pcb",
        "model_name": "factoryloop-pcb",
        "model_version": "5",
        "previous_version": "4",
        "state": state,
    }
    return RolloutEvent(**(base | kw))


class FakeRegistry:
    def __init__(self, models: list[dict[str, Any]] | None) -> None:
        self.models = models

    def _all(self) -> list[dict[str, Any]]:
        if self.models is None:
            raise UpstreamError("MLflow at http://127.0.0.1:1 is unreachable")
        return self.models

    def list_models(self) -> list[dict[str, Any]]:
        return self._all()

    def get_model(self, name: str) -> dict[str, Any]:
        found = [m for m in self._all() if m["name"] == name]
        if not found:
            raise NotFoundError(f"MLflow: no model {name}")
        return found[0]


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    settings = ApiSettings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}", products_dir=tmp_path / "products"
    )
    context = AppContext.from_settings(settings)
    upgrade(context.db.engine)
    yield context
    context.close()


def test_sink_rows_and_reads(ctx: AppContext) -> None:
    req = RolloutRequest(
        request_id="q" * 16, product="pcb", action=DEPLOY, model_version="5", requested_by="bob"
    )
    story = [
        req,
        event(RolloutState.REQUESTED, request_id=req.request_id),
        event(RolloutState.CANARY, request_id=req.request_id, agents=("agent-1",), stages=2),
        event(
            RolloutState.CANARY, agents=("agent-1",), stages=2, evidence={"outcomes": 40.0, "p99_ms": 12.5}
        ),
        event(RolloutState.WIDENED, stage=1, stages=2, agents=("agent-1", "agent-2"), reason="window passed"),
    ]
    batch = to_rows(story)
    assert [r["state"] for r in batch.rollouts] == ["requested", "requested", "canary", "canary", "widened"]
    assert batch.rollouts[0]["actor"] == "bob" and batch.rollouts[0]["action"] == "deploy"
    writer = SinkWriter(ctx.db.engine, LocalFrameStore(ctx.settings.frames_dir))
    assert writer.write(story).inserted == 5
    assert writer.write(story).inserted == 0  # a replay stores nothing twice

    detail = request_detail(ctx, req.request_id)
    assert detail.status == "canary" and detail.request is not None and detail.request.actor == "bob"
    assert [e.state for e in detail.events] == ["requested", "canary"]
    with pytest.raises(NotFoundError, match="no rollout request"):
        request_detail(ctx, "n" * 16)
    assert [r.state for r in list_rollouts(ctx, "pcb", 2)] == ["widened", "canary"]
    assert list_rollouts(ctx, "tiles", 50) == []

    model = {
        "name": "factoryloop-pcb",
        "tags": {"product": "pcb"},
        "aliases": {"champion": "4", "canary": "5"},
    }
    ctx.registry = FakeRegistry([model])  # type: ignore[assignment]
    view = product_rollout(ctx, "pcb")
    assert (view.model_name, view.champion, view.canary, view.challenger) == (
        "factoryloop-pcb",
        "4",
        "5",
        None,
    )
    flight = view.in_flight
    assert flight is not None and flight.state == "widened" and flight.agents == ["agent-1", "agent-2"]
    assert flight.evidence == {"outcomes": 40.0, "p99_ms": 12.5}  # the latest evidence reported
    assert flight.request_id == req.request_id and flight.stage == 1 and flight.reason == "window passed"
    assert len(view.history) == 5 and view.pending == []

    writer.write([event(RolloutState.FULL, stage=1, stages=2)])
    assert product_rollout(ctx, "pcb").in_flight is None
    with pytest.raises(NotFoundError, match="no product 'tiles'"):
        product_rollout(ctx, "tiles")
    ctx.registry = FakeRegistry(None)  # type: ignore[assignment]
    with pytest.raises(UpstreamError):
        product_rollout(ctx, "pcb")


@pytest.mark.parametrize("action", list(RolloutAction))
def test_rollout_request_counters_are_exported_before_the_first_request(action: RolloutAction) -> None:
    """At 0 from the start, so that Prometheus sees the first rollback (FactoryloopRollbackRequested)."""
    from prometheus_client import REGISTRY

    import api.metrics  # noqa: F401

    labels = {"action": action.value}
    assert REGISTRY.get_sample_value("factoryloop_api_rollout_requests_total", labels) is not None
