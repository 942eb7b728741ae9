"""Read the MLflow model registry over its REST API (registered models, versions, aliases, tags).

REST rather than ``MlflowClient`` so that timeouts are short and an unreachable server is a clear 503.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from api.errors import InvalidRequestError, NotFoundError, UpstreamError

logger = logging.getLogger(__name__)


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or []}


def _aliases(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {a["alias"]: str(a["version"]) for a in items or []}


class MlflowRegistry:
    def __init__(self, tracking_uri: str, timeout_s: float = 5.0) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.tracking_uri}/api/2.0/mlflow/{path}"
        try:
            resp = httpx.get(url, params=params, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"MLflow at {self.tracking_uri} is unreachable: {exc}") from exc
        if resp.status_code == 404 or (resp.status_code == 400 and "RESOURCE_DOES_NOT_EXIST" in resp.text):
            raise NotFoundError(f"MLflow: {resp.json().get('message', 'not found')}")
        if resp.status_code == 400:
            raise InvalidRequestError(f"MLflow refused the request: {resp.text[:300]}")
        if resp.status_code >= 400:
            raise UpstreamError(f"MLflow {path} answered {resp.status_code}: {resp.text[:300]}")
        data: dict[str, Any] = resp.json()
        return data

    def list_models(self, max_results: int = 200) -> list[dict[str, Any]]:
        data = self._get("registered-models/search", {"max_results": max_results})
        return [self._model(m) for m in data.get("registered_models", [])]

    def get_model(self, name: str) -> dict[str, Any]:
        data = self._get("registered-models/get", {"name": name})
        return self._model(data["registered_model"])

    def versions(self, name: str, max_results: int = 200) -> list[dict[str, Any]]:
        escaped = name.replace("\\", "\\\\").replace("'", "\\'")
        data = self._get("model-versions/search", {"filter": f"name='{escaped}'", "max_results": max_results})
        return [self._version(v) for v in data.get("model_versions", [])]

    def get_version(self, name: str, version: str) -> dict[str, Any]:
        data = self._get("model-versions/get", {"name": name, "version": version})
        return self._version(data["model_version"])

    @staticmethod
    def _model(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": m["name"],
            "description": m.get("description") or "",
            "aliases": _aliases(m.get("aliases")),
            "tags": _tags(m.get("tags")),
            "latest_versions": sorted({str(v["version"]) for v in m.get("latest_versions", [])}, key=_vkey),
            "created_ms": m.get("creation_timestamp"),
            "updated_ms": m.get("last_updated_timestamp"),
        }

    @staticmethod
    def _version(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": v["name"],
            "version": str(v["version"]),
            "status": v.get("status", ""),
            "run_id": v.get("run_id"),
            "source": v.get("source"),
            "aliases": list(v.get("aliases", [])),
            "tags": _tags(v.get("tags")),
            "created_ms": v.get("creation_timestamp"),
        }


def _vkey(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 62, version)
