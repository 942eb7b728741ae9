"""One retrain of one product: freeze data, train, export, log, register as challenger, gate."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from factoryloop.products import Product, ProductError
from training.datasets import DatasetStore, Provenance
from training.datasets.balance import repeat_rare_classes
from training.errors import TrainingError
from training.registry import (
    CHALLENGER,
    GateDecision,
    GatePolicy,
    ModelRegistry,
    RegisteredVersion,
    ensure_golden,
    export_golden,
    export_recent,
    export_training,
    golden_hashes,
    log_training,
    run_gate,
)
from training.registry.golden import TRUTH, VALIDATION_TAG
from training.settings import TrainSettings
from training.triggers import retrain_lock
from training.yolo import TrainResult, export_onnx, train_yolo, verify_onnx_parity
from training.yolo.brought import brought_weights, check_brought
from training.yolo.quantize import edge_export
from training.yolo.recipes import get_recipe

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainOutcome:
    version: RegisteredVersion
    train: TrainResult
    dataset_version: str
    dataset_sha256: str
    decision: GateDecision | None


def product_record(store: DatasetStore, product: str) -> Product:
    """The product's class map from the catalog beside the store; TrainingError saying how to create it."""
    try:
        return store.products.get(product)
    except ProductError as exc:
        raise TrainingError(str(exc)) from exc


def gate_policy(settings: TrainSettings) -> GatePolicy:
    return GatePolicy(margin=settings.gate_margin, max_recall_drop=settings.gate_max_recall_drop)


def train_params(
    settings: TrainSettings,
    *,
    epochs: int | None = None,
    imgsz: int | str | None = None,
    recipe: str | None = None,
    **overrides: Any,
) -> tuple[str, dict[str, Any]]:
    """The recipe's name and the ``train_yolo`` arguments.

    Layers: ``recipe``, else the settings' recipe (``finetune_recipe`` when the model is a .pt), then the
    settings' model/epochs/imgsz/batch when set, then this call's ``epochs``/``imgsz``/``overrides``.
    """
    model = str(overrides.pop("model", None) or settings.base_model or "")
    finetune = recipe is None and model.endswith(".pt")
    chosen = get_recipe(recipe or (settings.finetune_recipe if finetune else settings.recipe))
    fixed = {"epochs": epochs or settings.epochs, "imgsz": imgsz or settings.imgsz, "batch": settings.batch}
    if finetune and settings.finetune_freeze_batchnorm:
        overrides.setdefault("freeze_batchnorm", True)
    if finetune and settings.finetune_precise_bn is not None:
        overrides.setdefault("precise_bn", settings.finetune_precise_bn)
    args = chosen.train_args(**{**{k: v for k, v in fixed.items() if v}, **overrides})
    return chosen.name, {"model": model or chosen.model, "seed": settings.seed, **args}


def retrain(
    product: str,
    store: DatasetStore,
    settings: TrainSettings,
    *,
    reason: str = "manual",
    gate: bool = True,
    policy: GatePolicy | None = None,
    epochs: int | None = None,
    imgsz: int | str | None = None,
    recipe: str | None = None,
    weights: Path | None = None,
    **train_overrides: Any,
) -> RetrainOutcome:
    """Train a challenger for ``product`` from its truth-labelled images and (by default) gate it.

    ``train_overrides`` go to :func:`training.yolo.train_yolo` (``model`` a .pt to start from,
    ``time_budget_s``, ``progress``, Ultralytics arguments); ``recipe`` names the recipe (default: the
    settings' scratch or fine-tune recipe). ``weights``: a .pt trained elsewhere, taken instead of training
    (``factoryloop model register``; measured on the validation split, served at ``imgsz`` or the size it
    was trained at); everything after the training is the same."""
    with retrain_lock(settings.state_dir, product):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        work = settings.state_dir / "runs" / product / stamp
        classes = product_record(store, product)
        size = imgsz if isinstance(imgsz, int) else None
        brought = check_brought(weights, classes.class_names, size) if weights is not None else None
        golden = ensure_golden(store, classes, settings.golden_fraction)
        version = store.freeze_version(
            f"{product}-{stamp}",
            products=[product],
            provenances=TRUTH + ((Provenance.PSEUDO,) if settings.pseudo_label_min_confidence else ()),
            class_map=classes,
            test_fraction=settings.golden_fraction,
            max_train=settings.max_train_images,
        )
        data, validation = export_training(store, version, golden, work / "data")
        repeats = repeat_rare_classes(
            data.parent, min_share=settings.rare_class_min_share, max_repeat=settings.rare_class_max_repeat
        )
        logger.info("%s: rare-class repeats: %s", version.name, repeats.summary())
        if brought is None:
            recipe, params = train_params(
                settings, epochs=epochs, imgsz=imgsz, recipe=recipe, **train_overrides
            )
            result = train_yolo(data, work, device=settings.device, **params)
        else:
            result = brought_weights(brought, data, work, imgsz=size, device=settings.device)
            recipe, params = "brought", {"model": str(weights), "imgsz": result.imgsz}
        imgsz = result.imgsz or int(params["imgsz"])  # "auto": the size train_yolo chose from the data
        exported = export_onnx(result.best_pt, imgsz, work / "model.onnx", product=product)
        images = [cv2.imread(str(store.image_path(h))) for h in sorted(golden_hashes(golden))[:4]]
        parity = verify_onnx_parity(
            result.best_pt, exported.path, [i for i in images if i is not None], imgsz
        )
        golden_yaml = export_golden(store, golden, work / "golden", class_names=classes.class_names)
        recent_yaml = export_recent(store, version, golden, work / "recent")
        edge, edge_tags = exported, dict[str, str]()
        if settings.edge_int8:  # checked where the gate judges: recent reviewed images, else the golden set
            edge, edge_tags = edge_export(
                exported,
                data.parent / "images" / "train",
                recent_yaml or golden_yaml,
                calibration=settings.int8_calibration_images,
                max_drop=settings.int8_max_drop,
                max_class_drop=settings.int8_max_class_drop,
            )
        manifest = {
            "dataset_version": version.name,
            "dataset_sha256": version.sha256,
            "golden_version": golden.name,
            "golden_sha256": golden.sha256,
            "reason": reason,
            "parity_max_raw_diff": parity.max_raw_diff,
            "edge_file": edge.path.name,
            "edge_sha256": edge.sha256,
        }
        logged = log_training(
            settings.mlflow_tracking_uri,
            settings.experiment,
            product=product,
            dataset_sha256=version.sha256,
            params={
                **{k: v for k, v in params.items() if k != "progress"},
                "imgsz": imgsz,
                "recipe": recipe,
                "reason": reason,
                "dataset_version": version.name,
                "rare_class_repeats": repeats.summary()[:500],
            },
            result=result,
            exported=exported,
            manifest=manifest,
            edge=edge,
        )
        registry = ModelRegistry(settings.mlflow_tracking_uri, settings.registered_model_prefix)
        mv = registry.register(
            product,
            logged,
            tags={
                "reason": reason,
                "dataset_version": version.name,
                "dataset_sha256": version.sha256,
                **edge_tags,
                VALIDATION_TAG: validation,
            },
        )
        registry.set_alias(product, CHALLENGER, mv.version)
        decision = None
        if gate:
            decision = run_gate(
                registry,
                product,
                golden_yaml,
                policy or gate_policy(settings),
                challenger=mv,
                device=settings.device,
                recent_yaml=recent_yaml,
            )
        logger.info(
            "retrain of %s: v%s (%s)", product, mv.version, decision.reason if decision else "not gated"
        )
        return RetrainOutcome(mv, result, version.name, version.sha256, decision)
