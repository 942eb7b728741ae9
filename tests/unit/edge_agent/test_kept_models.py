"""The models an agent replaced stay on its disk: a rollback to one of them loads it with no download (the
model files' server may be down), a kept file that no longer matches its sha256 is not used, and only the
most recent ones are kept."""

from __future__ import annotations

from pathlib import Path

from edge_agent.models.store import KEEP, ModelStore
from factoryloop.schemas import AgentEventType, Deployment, Strategy
from tests.unit.edge_agent.test_compat import Manager


def _versions(m: Manager, *versions: str) -> dict[str, Deployment]:
    """A deployment per version, each its own model file (its metadata names it: distinct sha256s)."""
    return {v: m.deployment(v, product=f"model-{v}") for v in versions}


def _gone(dep: Deployment) -> None:
    """The server holding the model's file no longer answers for it."""
    Path(dep.artifact_uri.removeprefix("file://")).unlink()


def test_a_rollback_to_the_model_served_before_needs_no_download(tmp_path: Path) -> None:
    m = Manager(tmp_path, None)
    deps = _versions(m, "1", "3")
    assert m.manager.apply(deps["1"]) and m.manager.apply(deps["3"])  # the champion, then a canary
    _gone(deps["1"])

    back = deps["1"].model_copy(update={"deployment_id": "rollback-1", "strategy": Strategy.ROLLBACK})
    assert m.manager.apply(back)

    assert m.manager.current.ref.version == "1" and m.manager.current.ref.sha256 == deps["1"].sha256
    assert m.events[-1][0] is AgentEventType.MODEL_LOADED
    assert ModelStore(tmp_path / "state").load().ref.version == "1"  # type: ignore[union-attr]
    # v3 is kept in turn: the canary again needs no download either
    _gone(deps["3"])
    assert m.manager.apply(deps["3"].model_copy(update={"deployment_id": "again-3"}))


def test_a_kept_file_that_changed_is_not_used(tmp_path: Path) -> None:
    m = Manager(tmp_path, None)
    deps = _versions(m, "1", "2")
    assert m.manager.apply(deps["1"]) and m.manager.apply(deps["2"])
    (kept,) = ModelStore(tmp_path / "state").kept_dir.glob(f"*-{deps['1'].sha256}.onnx")
    kept.write_bytes(kept.read_bytes() + b"\0")  # a disk error, or someone's edit
    _gone(deps["1"])

    assert not m.manager.apply(deps["1"].model_copy(update={"deployment_id": "rollback-1"}))

    assert m.manager.current.ref.version == "2"  # keeps serving what it had
    assert "cannot fetch" in (m.manager.last_error or "") and not kept.exists()


def test_only_the_most_recent_models_are_kept(tmp_path: Path) -> None:
    m = Manager(tmp_path, None)
    deps = _versions(m, "1", "2", "3", "4")
    for v in ("1", "2", "3", "4", "2"):  # 2 again: it becomes the most recent kept one when replaced
        assert m.manager.apply(deps[v].model_copy(update={"deployment_id": f"dep-{v}-{len(m.events)}"}))

    kept = {p.stem.split("-", 1)[1] for p in ModelStore(tmp_path / "state").kept_dir.glob("*.onnx")}

    assert len(kept) == KEEP == 2
    assert kept == {deps["3"].sha256, deps["4"].sha256}  # 2 serves; 1 was the oldest
