"""Errors of model evaluation and prediction; all subclass :class:`EvaluationError` (a ``TrainingError``)."""

from __future__ import annotations

from training.errors import TrainingError


class EvaluationError(TrainingError):
    """A model could not be evaluated or run on a folder; the message says what to do."""


class ModelNotFoundError(EvaluationError):
    """No such registered version or alias, or no such local ONNX file."""


class TamperedModelError(EvaluationError):
    """A downloaded model file's sha256 differs from the one its registered version records."""


class UnknownClassError(EvaluationError):
    """The evaluation data has boxes of classes the model does not know."""


class EmptyDataError(EvaluationError):
    """There is no image to evaluate or predict on."""
