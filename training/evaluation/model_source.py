"""Which model to evaluate or run: a registered version's file (downloaded, its sha256 checked against the
version's tag) or a local ONNX file. Class names and input size come from the ONNX metadata, read by the edge
agent's own :class:`~edge_agent.detect.onnx_runtime.OnnxDetector`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import RegistryError
from training.evaluation.errors import EvaluationError, ModelNotFoundError, TamperedModelError
from training.evaluation.report import ModelInfo
from training.registry.models import CHAMPION, ModelRegistry, RegisteredVersion

if TYPE_CHECKING:
    from edge_agent.detect.onnx_runtime import OnnxDetector

logger = logging.getLogger(__name__)

FP32_FILE = "model.onnx"


@dataclass(frozen=True)
class ModelFile:
    path: Path  # the local ONNX file
    info: ModelInfo
    registered: RegisteredVersion | None = None

    def detector(self, conf: float = 0.25, iou: float = 0.7) -> OnnxDetector:
        """The edge agent's detector on this file (what the line PC runs), at ``conf``."""
        return open_detector(self.path, conf=conf, iou=iou)


def open_detector(path: Path, *, conf: float = 0.25, iou: float = 0.7) -> OnnxDetector:
    from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
    from edge_agent.errors import DetectorError

    try:
        return OnnxDetector(path, DetectorOptions(conf=conf, iou=iou, warmup_runs=1))
    except DetectorError as exc:
        raise EvaluationError(f"the edge agent cannot run {path}: {exc}") from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _info(path: Path, name: str, version: str | None, source: str) -> ModelInfo:
    det = open_detector(path)
    precision = "int8" if det.metadata.get("precision") == "int8" else "fp32"
    return ModelInfo(name, version, source, det.sha256, precision, det.imgsz, det.class_names)


def local_model(path: Path) -> ModelFile:
    """A local ONNX file (an Ultralytics export: class names in its metadata)."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no such ONNX file")
    return ModelFile(path, _info(path, path.name, None, str(path.resolve())))


def choose_version(
    registry: ModelRegistry, product: str, *, version: str | None = None, alias: str | None = None
) -> RegisteredVersion:
    """``version``, else the version ``alias`` (default champion) points at."""
    name, status = registry.name(product), f"`factoryloop train status --product {product}` lists them"
    if version is not None:
        try:
            return registry.get(product, version)
        except RegistryError as exc:
            raise ModelNotFoundError(f"cannot read version {version} of {name} ({exc}); {status}") from exc
    chosen = registry.alias(product, alias or CHAMPION)
    if chosen is None:
        raise ModelNotFoundError(
            f"{name} has no version with alias {alias or CHAMPION!r}: pass --version N ({status}), another "
            "--alias, or a local file with --onnx"
        )
    return chosen


def registered_model(
    registry: ModelRegistry,
    product: str,
    dest: Path,
    *,
    version: str | None = None,
    alias: str | None = None,
    fp32: bool = False,
) -> ModelFile:
    """Download the chosen version's edge file (``model.onnx`` with ``fp32``) to ``dest``; check its
    sha256 against the version's tag."""
    v = choose_version(registry, product, version=version, alias=alias)
    file = FP32_FILE if fp32 else v.edge_uri.rsplit("/", 1)[-1]
    expected = v.sha256 if file == FP32_FILE else v.edge_sha256
    uri = f"{v.source.rstrip('/')}/{file}"
    try:
        from mlflow.artifacts import download_artifacts

        local = Path(
            download_artifacts(artifact_uri=uri, dst_path=str(dest), tracking_uri=registry.tracking_uri)
        )
    except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError
        raise EvaluationError(f"downloading {uri} of {v.name} v{v.version} failed: {exc}") from exc
    actual = sha256_of(local)
    if not expected:
        logger.warning("%s v%s records no sha256 for %s: not checked", v.name, v.version, file)
    elif actual != expected:
        raise TamperedModelError(
            f"{file} of {v.name} v{v.version} has sha256 {actual[:16]}... but the registry recorded "
            f"{expected[:16]}...: the file was changed after registration. Do not deploy it; restore the "
            "artifact or register the model again (retrain)"
        )
    return ModelFile(local, _info(local, v.name, v.version, uri), v)
