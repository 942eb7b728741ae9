"""Fetch a model artifact (file://, http(s)://, mlflow-artifacts:/, runs:/); check signature and sha256.

MLflow is reached over its REST API with httpx; the edge agent never imports mlflow.
``mlflow-artifacts:/<path>`` -> ``GET {tracking_uri}/api/2.0/mlflow-artifacts/artifacts/<path>``;
``runs:/<run_id>/<path>`` -> the run's ``artifact_uri`` (``/api/2.0/mlflow/runs/get``) joined with ``<path>``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from edge_agent.errors import ModelRejected
from edge_agent.settings import AgentSettings
from factoryloop.schemas import Deployment
from factoryloop.signing import SignatureError, verify


def _tracking(settings: AgentSettings, uri: str) -> str:
    if not settings.mlflow_tracking_uri:
        raise ModelRejected(
            f"{uri}: set FACTORYLOOP_AGENT_MLFLOW_TRACKING_URI to fetch MLflow artifacts", "fetch"
        )
    return settings.mlflow_tracking_uri.rstrip("/")


def resolve_url(uri: str, settings: AgentSettings, client: httpx.Client) -> str:
    """Turn an artifact URI into a file path (``file://``) or an HTTP URL."""
    parsed = urlparse(uri)
    if parsed.scheme in ("file", "http", "https"):
        return uri
    if parsed.scheme == "mlflow-artifacts":
        base = f"http://{parsed.netloc}" if parsed.netloc else _tracking(settings, uri)
        return f"{base}/api/2.0/mlflow-artifacts/artifacts/{parsed.path.lstrip('/')}"
    if parsed.scheme == "runs":
        run_id, _, rel = (parsed.netloc + parsed.path).lstrip("/").partition("/")
        response = client.get(
            f"{_tracking(settings, uri)}/api/2.0/mlflow/runs/get", params={"run_id": run_id}
        )
        response.raise_for_status()
        root = response.json()["run"]["info"]["artifact_uri"].rstrip("/")
        return resolve_url(f"{root}/{rel}", settings, client)
    raise ModelRejected(f"unsupported artifact URI scheme {parsed.scheme!r} in {uri!r}", "fetch")


def fetch(uri: str, dest: Path, settings: AgentSettings) -> Path:
    """Download or copy the artifact to ``dest``; :class:`ModelRejected` on any failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    limit = settings.max_artifact_bytes
    try:
        with httpx.Client(timeout=settings.download_timeout_s, follow_redirects=True) as client:
            url = resolve_url(uri, settings, client)
            if url.startswith("file:"):
                src = Path(unquote(urlparse(url).path))
                if src.stat().st_size > limit:
                    raise ModelRejected(f"{uri}: artifact larger than {limit} bytes", "fetch")
                shutil.copyfile(src, dest)
                return dest
            with client.stream("GET", url) as response, dest.open("wb") as out:
                response.raise_for_status()
                total = 0
                for chunk in response.iter_bytes(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise ModelRejected(f"{uri}: artifact larger than {limit} bytes", "fetch")
                    out.write(chunk)
    except (OSError, httpx.HTTPError, KeyError, ValueError) as exc:
        raise ModelRejected(f"cannot fetch {uri}: {exc!r}", "fetch") from exc
    return dest


def check_signature(dep: Deployment, settings: AgentSettings) -> None:
    """Before any download: the deployment's HMAC-SHA256 (:mod:`factoryloop.signing`) with the fleet key."""
    try:
        verify(dep, settings.signing_key, required=settings.require_signature)
    except SignatureError as exc:
        raise ModelRejected(
            f"{exc} (FACTORYLOOP_AGENT_SIGNING_KEY / FACTORYLOOP_AGENT_REQUIRE_SIGNATURE)", "signature"
        ) from exc


def check_sha256(path: Path, sha256: str) -> None:
    """After the download: the artifact's bytes against the (signed) sha256 of the deployment."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != sha256:
        raise ModelRejected(
            f"sha256 mismatch: deployment says {sha256}, artifact is {actual} (tampered?)", "sha256"
        )
