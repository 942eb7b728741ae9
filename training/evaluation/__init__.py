"""Evaluate a model (a registered version or a local ONNX file) on labelled data; run it on a folder.

Used by ``factoryloop model evaluate`` and ``factoryloop model predict`` (:mod:`training.model_cli`).
"""

from training.evaluation.confusion import BACKGROUND, ConfusionMatrix, confusion_matrix
from training.evaluation.data import EvalData, dataset_data, folder_data, golden_data
from training.evaluation.errors import (
    EmptyDataError,
    EvaluationError,
    ModelNotFoundError,
    TamperedModelError,
    UnknownClassError,
)
from training.evaluation.evaluate import evaluate_model
from training.evaluation.model_source import ModelFile, local_model, registered_model
from training.evaluation.report import ClassRow, DataInfo, Evaluation, ModelInfo, render, to_json
from training.evaluation.yolo_folder import ClassMatch, match_classes, write_plan

__all__ = [
    "BACKGROUND",
    "ClassMatch",
    "ClassRow",
    "ConfusionMatrix",
    "DataInfo",
    "EmptyDataError",
    "EvalData",
    "Evaluation",
    "EvaluationError",
    "ModelFile",
    "ModelInfo",
    "ModelNotFoundError",
    "TamperedModelError",
    "UnknownClassError",
    "confusion_matrix",
    "dataset_data",
    "evaluate_model",
    "folder_data",
    "golden_data",
    "local_model",
    "match_classes",
    "registered_model",
    "render",
    "to_json",
    "write_plan",
]
