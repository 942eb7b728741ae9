"""The MLflow model registry, one registered model per product, with aliases (never stages).

``challenger``: the newest candidate; ``champion``: what the fleet should run. Gate decisions and their
numbers are recorded as model-version tags.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from factoryloop.schemas.deployments import (
    EDGE_FILE_TAG,
    EDGE_PRECISION_TAG,
    EDGE_SHA256_TAG,
    PRODUCT_TAG,
)
from training.errors import RegistryError
from training.registry.mlflow_run import LoggedModel, client

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
CANARY = "canary"  # the version a rollout is taking through its canary stages (training.rollout.ledger)


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    source: str  # the artifact folder
    tags: dict[str, str]

    @property
    def onnx_uri(self) -> str:
        return f"{self.source.rstrip('/')}/model.onnx"

    @property
    def sha256(self) -> str:
        return self.tags.get("onnx_sha256", "")

    @property
    def edge_uri(self) -> str:
        """What a deployment ships: the INT8 twin when training's check passed it, else the fp32 file."""
        return f"{self.source.rstrip('/')}/{self.tags.get(EDGE_FILE_TAG, 'model.onnx')}"

    @property
    def edge_sha256(self) -> str:
        return self.tags.get(EDGE_SHA256_TAG) or self.sha256

    @property
    def precision(self) -> Literal["fp32", "int8"]:
        return "int8" if self.tags.get(EDGE_PRECISION_TAG) == "int8" else "fp32"

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(json.loads(self.tags.get("class_names", "[]")))

    @property
    def imgsz(self) -> int:
        return int(self.tags.get("imgsz", "0"))


def _is_not_found(exc: Exception) -> bool:
    text = str(exc)
    return (
        "RESOURCE_DOES_NOT_EXIST" in text or "not found" in text.lower() or "does not exist" in text.lower()
    )


class ModelRegistry:
    def __init__(self, tracking_uri: str, prefix: str = "factoryloop-") -> None:
        self.tracking_uri = tracking_uri
        self.prefix = prefix
        self._client: Any = client(tracking_uri)

    def name(self, product: str) -> str:
        return f"{self.prefix}{product}"

    def _version(self, mv: Any) -> RegisteredVersion:
        return RegisteredVersion(mv.name, str(mv.version), mv.run_id or "", mv.source, dict(mv.tags or {}))

    def register(
        self, product: str, logged: LoggedModel, tags: dict[str, str] | None = None
    ) -> RegisteredVersion:
        """Add the logged model as a new version of the product's registered model."""
        name = self.name(product)
        try:
            try:
                self._client.get_registered_model(name)
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
                self._client.create_registered_model(name, tags={PRODUCT_TAG: product})
            mv = self._client.create_model_version(
                name,
                source=logged.model_uri,
                run_id=logged.run_id,
                tags={
                    "onnx_sha256": logged.sha256,
                    EDGE_FILE_TAG: logged.edge_file,
                    EDGE_SHA256_TAG: logged.edge_sha256 or logged.sha256,
                    EDGE_PRECISION_TAG: logged.edge_precision,
                    "class_names": json.dumps(list(logged.class_names)),
                    "imgsz": str(logged.imgsz),
                    PRODUCT_TAG: product,
                    **(tags or {}),
                },
            )
        except Exception as exc:
            raise RegistryError(f"registering {logged.model_uri} as {name} failed: {exc}") from exc
        logger.info("registered %s version %s", name, mv.version)
        return self._version(mv)

    def get(self, product: str, version: str) -> RegisteredVersion:
        try:
            return self._version(self._client.get_model_version(self.name(product), version))
        except Exception as exc:
            raise RegistryError(f"{self.name(product)} version {version}: {exc}") from exc

    def alias(self, product: str, alias: str) -> RegisteredVersion | None:
        try:
            return self._version(self._client.get_model_version_by_alias(self.name(product), alias))
        except Exception as exc:
            if _is_not_found(exc):
                return None
            raise RegistryError(f"reading alias {alias} of {self.name(product)} failed: {exc}") from exc

    def set_alias(self, product: str, alias: str, version: str) -> None:
        try:
            self._client.set_registered_model_alias(self.name(product), alias, version)
        except Exception as exc:
            raise RegistryError(
                f"setting {alias} -> {version} on {self.name(product)} failed: {exc}"
            ) from exc
        logger.info("%s: %s -> version %s", self.name(product), alias, version)

    def delete_alias(self, product: str, alias: str) -> None:
        """Remove ``alias`` (no error when it is not set)."""
        try:
            self._client.delete_registered_model_alias(self.name(product), alias)
        except Exception as exc:
            if _is_not_found(exc):
                return
            raise RegistryError(f"deleting alias {alias} of {self.name(product)} failed: {exc}") from exc
        logger.info("%s: %s removed", self.name(product), alias)

    def tag(self, product: str, version: str, tags: dict[str, str]) -> None:
        try:
            for key, value in tags.items():
                self._client.set_model_version_tag(self.name(product), version, key, value)
        except Exception as exc:
            raise RegistryError(f"tagging {self.name(product)} version {version} failed: {exc}") from exc

    def download(self, version: RegisteredVersion, dest: Path) -> Path:
        """Download the version's artifact folder; return the local folder (model.pt, model.onnx, ...)."""
        try:
            from mlflow.artifacts import download_artifacts

            local = download_artifacts(
                artifact_uri=version.source, dst_path=str(dest), tracking_uri=self.tracking_uri
            )
        except Exception as exc:
            raise RegistryError(f"downloading {version.source} failed: {exc}") from exc
        return Path(local)

    def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether the tracking server answers its health check now (a local store always does): lets a
        caller skip work instead of waiting out the MLflow client's minutes of retries."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return True
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.tracking_uri.rstrip('/')}/health", timeout=timeout_s) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def products(self) -> list[str]:
        """The products that have a registered model (its name with this registry's prefix)."""
        try:
            found = self._client.search_registered_models(f"name LIKE '{self.prefix}%'")
        except Exception as exc:
            raise RegistryError(f"listing registered models failed: {exc}") from exc
        return sorted(m.name[len(self.prefix) :] for m in found if m.name.startswith(self.prefix))

    def versions(self, product: str) -> list[RegisteredVersion]:
        try:
            found = self._client.search_model_versions(f"name = '{self.name(product)}'")
        except Exception as exc:
            raise RegistryError(f"listing versions of {self.name(product)} failed: {exc}") from exc
        return sorted((self._version(mv) for mv in found), key=lambda v: int(v.version))
