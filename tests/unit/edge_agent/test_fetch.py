"""Artifact fetch (file://, http:// from a real local server); signature and sha256 checks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.errors import ModelRejected
from edge_agent.models.fetch import check_sha256, check_signature, fetch, resolve_url
from edge_agent.settings import AgentSettings
from factoryloop.schemas import Deployment
from factoryloop.signing import sign
from tests.support.events import deployment
from tests.support.local_http import LocalHttp, local_http

ARTIFACT = b"\x08\x07onnx-bytes" * 1000
KEY = "fleet-key-\u00e9"  # UTF-8 encoded for the HMAC


@pytest.fixture
def served(tmp_path: Path) -> Iterator[LocalHttp]:
    root = tmp_path / "www"
    (root / "models").mkdir(parents=True)
    (root / "models" / "m.onnx").write_bytes(ARTIFACT)
    with local_http(root) as http:
        yield http


def settings(tmp_path: Path, **kw: Any) -> AgentSettings:
    return AgentSettings(state_dir=tmp_path / "state", **kw)


def test_fetch_over_http(served: LocalHttp, tmp_path: Path) -> None:
    dest = fetch(f"{served.url}/models/m.onnx", tmp_path / "dl" / "m.onnx", settings(tmp_path))
    assert dest.read_bytes() == ARTIFACT


@pytest.mark.parametrize(
    ("path", "kw", "error"),
    [
        ("models/missing.onnx", {}, "404"),
        ("models/m.onnx", {"max_artifact_bytes": 1000}, "larger than 1000 bytes"),
    ],
)
def test_fetch_over_http_refused(
    served: LocalHttp, tmp_path: Path, path: str, kw: dict[str, Any], error: str
) -> None:
    with pytest.raises(ModelRejected, match=error):
        fetch(f"{served.url}/{path}", tmp_path / "dl.onnx", settings(tmp_path, **kw))


def test_fetch_nothing_listening(tmp_path: Path) -> None:
    with pytest.raises(ModelRejected, match="cannot fetch"):
        fetch("http://127.0.0.1:1/m.onnx", tmp_path / "dl.onnx", settings(tmp_path, download_timeout_s=2))


def test_fetch_file_uri(tmp_path: Path) -> None:
    src = tmp_path / "a b.onnx"
    src.write_bytes(ARTIFACT)
    assert fetch(src.as_uri(), tmp_path / "dl.onnx", settings(tmp_path)).read_bytes() == ARTIFACT
    with pytest.raises(ModelRejected, match="larger than"):
        fetch(src.as_uri(), tmp_path / "dl2.onnx", settings(tmp_path, max_artifact_bytes=10))


@pytest.mark.parametrize(
    ("uri", "tracking", "expected"),
    [
        (
            "mlflow-artifacts:/1/abc/artifacts/m.onnx",
            "http://ml:5000/",
            "http://ml:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/m.onnx",
        ),
        ("mlflow-artifacts://h:9/1/m.onnx", None, "http://h:9/api/2.0/mlflow-artifacts/artifacts/1/m.onnx"),
        ("https://x/m.onnx", None, "https://x/m.onnx"),
    ],
)
def test_resolve_url(tmp_path: Path, uri: str, tracking: str | None, expected: str) -> None:
    import httpx

    with httpx.Client() as client:
        assert resolve_url(uri, settings(tmp_path, mlflow_tracking_uri=tracking), client) == expected


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        ("mlflow-artifacts:/1/m.onnx", "FACTORYLOOP_AGENT_MLFLOW_TRACKING_URI"),
        ("runs:/abc/m.onnx", "FACTORYLOOP_AGENT_MLFLOW_TRACKING_URI"),
        ("s3://bucket/m.onnx", "unsupported artifact URI scheme 's3'"),
    ],
)
def test_unresolvable_uris(tmp_path: Path, uri: str, error: str) -> None:
    with pytest.raises(ModelRejected, match=error):
        fetch(uri, tmp_path / "dl.onnx", settings(tmp_path))


SHA = hashlib.sha256(ARTIFACT).hexdigest()
DEP = deployment(sha256=SHA)
GOOD = sign(DEP, KEY)


@pytest.mark.parametrize(
    ("dep", "kw", "error"),
    [
        (DEP, {}, None),  # unsigned and not required: the sha256 alone
        (GOOD, {"signing_key": KEY, "require_signature": True}, None),
        (DEP, {"signing_key": KEY, "require_signature": True}, "unsigned deployment refused"),
        (GOOD, {}, "no signing key is configured"),
        (GOOD, {"signing_key": "another-fleet"}, "HMAC signature mismatch"),
        (GOOD.model_copy(update={"imgsz": 640}), {"signing_key": KEY}, "HMAC signature mismatch"),
    ],
)
def test_check_signature(tmp_path: Path, dep: Deployment, kw: dict[str, Any], error: str | None) -> None:
    if error is None:
        check_signature(dep, settings(tmp_path, **kw))
    else:
        with pytest.raises(ModelRejected, match=error):
            check_signature(dep, settings(tmp_path, **kw))


def test_check_sha256(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(ARTIFACT)
    check_sha256(path, SHA)
    path.write_bytes(ARTIFACT + b"tampered")
    with pytest.raises(ModelRejected, match="sha256 mismatch"):
        check_sha256(path, SHA)


def test_signing_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORYLOOP_AGENT_SIGNING_KEY", KEY)
    monkeypatch.setenv("FACTORYLOOP_AGENT_REQUIRE_SIGNATURE", "true")
    env = AgentSettings()
    assert env.require_signature and env.signing_key is not None
    assert KEY not in repr(env)  # a SecretStr: never in logs
    check_signature(GOOD, env)
    with pytest.raises(ModelRejected, match="unsigned"):
        check_signature(DEP, env)
