"""Does a model fit this agent? One product per agent, and every class its rules name a class of the model.

Shared by the model manager (which refuses a deployment that does not fit, keeping the current model), the
deployments watcher and ``factoryloop agent validate-config``. Training writes the product's name into every
exported ONNX file's metadata under :data:`PRODUCT_KEY`, next to Ultralytics' ``names``; a deployment carries
it in ``Deployment.product``. ``None`` anywhere means "not said" (a model or deployment made before products,
an agent configured without one) and never conflicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from edge_agent.config import AgentConfig
from edge_agent.detect.onnx_runtime import parse_names
from edge_agent.errors import DetectorError
from factoryloop.schemas.deployments import PRODUCT_TAG

PRODUCT_KEY = PRODUCT_TAG


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What an ONNX file's metadata says: its class names (``names``) and its product."""

    class_names: tuple[str, ...] | None
    product: str | None


def model_product(metadata: Mapping[str, str]) -> str | None:
    """The product an ONNX model's metadata names, else ``None``."""
    return metadata.get(PRODUCT_KEY, "").strip() or None


def product_problem(agent: str | None, deployment: str | None, model: str | None = None) -> str | None:
    """Why a deployment (its ``product``) and its model (metadata ``product``) cannot serve an agent
    configured for ``agent``; ``None`` when they can. A deployment whose model says another product than the
    deployment itself is refused whatever the agent serves: its producer mixed two products up."""
    if deployment is not None and model is not None and deployment != model:
        return f"the deployment is for product {deployment!r} but its model's metadata says {model!r}"
    if agent is None:
        return None
    for what, value in (("deployment", deployment), ("model", model)):
        if value is not None and value != agent:
            return f"{what} is for product {value!r}, this agent serves product {agent!r}"
    return None


def missing_classes(rule_classes: Iterable[str], class_names: Sequence[str]) -> list[str]:
    """The classes ``rules.classes`` names that the model does not have, sorted."""
    known = set(class_names)
    return sorted(c for c in rule_classes if c not in known)


def read_model_info(path: Path) -> ModelInfo:
    """Class names and product from an ONNX file's metadata (onnxruntime, no graph optimisation: fast)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own non-exported exception types
        raise DetectorError(f"{path}: cannot load ONNX model: {exc}") from exc
    meta = dict(session.get_modelmeta().custom_metadata_map or {})
    names = None
    if "names" in meta:
        try:
            names = parse_names(meta["names"])
        except (ValueError, SyntaxError) as exc:
            raise DetectorError(f"{path}: cannot read class names from metadata: {exc}") from exc
    return ModelInfo(names, model_product(meta))


def config_problems(config: AgentConfig) -> list[str]:
    """``path: message`` lines for a line config against the metadata of its ONNX file (when it exists): rules
    naming classes the model lacks, a model of another product than ``product``."""
    det = config.detector
    if not det.onnx.is_file():
        return []
    try:
        info = read_model_info(det.onnx)
    except DetectorError as exc:
        return [f"detector.onnx: {exc}"]
    problems: list[str] = []
    if det.class_names is None:  # explicit class_names are checked against the rules by the config itself
        if info.class_names is None:
            problems.append(f"detector.class_names: model {det.onnx.name} has no 'names' metadata; set them")
        else:
            classes = ", ".join(info.class_names)
            problems.extend(
                f"rules.classes.{name}: not a class of model {det.onnx.name} (classes: {classes})"
                for name in missing_classes(config.rules.classes, info.class_names)
            )
    if product_problem(config.product, None, info.product) is not None:
        problems.append(
            f"product: {config.product!r}, but model {det.onnx.name} is of product {info.product!r}"
        )
    return problems
