"""Exception base of the training package. Sub-packages raise subclasses so callers can catch one type."""


class TrainingError(Exception):
    """Base for errors raised by the ``training`` package."""


class ModelBuildError(TrainingError):
    """Training, exporting or evaluating a YOLO model failed; the message says which step and why."""


class ExportMismatchError(ModelBuildError):
    """The exported ONNX model does not reproduce the PyTorch model's detections."""


class RegistryError(TrainingError):
    """The MLflow model registry could not be read or written, or holds an unexpected state."""


class GateError(TrainingError):
    """A challenger could not be evaluated against the champion (missing golden set, models, ...)."""


class RolloutError(TrainingError):
    """A deployment could not be published or a canary could not be judged."""


class JournalError(RolloutError):
    """The rollout journal (rollbacks sent while MLflow was down) could not be written, or is unreadable."""


class TrainingStopped(TrainingError):
    """The trainer was asked to stop during a training run; the request stays queued for the next start."""


class RetrainBusyError(TrainingError):
    """A retrain for this product is already running (one at a time per product)."""


class IngestError(TrainingError):
    """Events could not be written to the dataset store."""
