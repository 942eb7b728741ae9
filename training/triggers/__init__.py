"""What starts a retrain: a request (CLI/API), a schedule, N new reviewed labels, or drift on a line.

Triggers (``new_labels``, ``schedule``, ``confidence_drift``, ``override_rate``) watch the fleet's events and
the dataset store; the queue keeps one retrain at a time per product (durable with a ``TrainerState``); the
worker runs them; ``retrain_lock`` keeps two processes from retraining the same product at once.
"""

from training.triggers.base import RetrainRequest, Trigger, TriggerContext
from training.triggers.config import (
    TriggerConfig,
    TriggerConfigError,
    TriggersConfig,
    UnknownTriggerError,
    build_trigger,
    build_triggers,
    load_triggers,
    parse_triggers,
)
from training.triggers.drift import (
    ConfidenceDriftTrigger,
    ConfidenceDriftTriggerConfig,
    OverrideRateTrigger,
    OverrideRateTriggerConfig,
    psi,
)
from training.triggers.lock import lock_path, retrain_lock
from training.triggers.new_labels import NewLabelsTrigger, NewLabelsTriggerConfig
from training.triggers.queue import Admission, RetrainQueue
from training.triggers.schedule import ScheduleTrigger, ScheduleTriggerConfig
from training.triggers.state import TrainerState, state_path
from training.triggers.watcher import TriggerChecker, TriggerEvaluator, TriggerWatcher
from training.triggers.worker import RetrainReport, RetrainWorker

__all__ = [
    "Admission",
    "ConfidenceDriftTrigger",
    "ConfidenceDriftTriggerConfig",
    "NewLabelsTrigger",
    "NewLabelsTriggerConfig",
    "OverrideRateTrigger",
    "OverrideRateTriggerConfig",
    "RetrainQueue",
    "RetrainReport",
    "RetrainRequest",
    "RetrainWorker",
    "ScheduleTrigger",
    "ScheduleTriggerConfig",
    "TrainerState",
    "Trigger",
    "TriggerChecker",
    "TriggerConfig",
    "TriggerConfigError",
    "TriggerContext",
    "TriggerEvaluator",
    "TriggerWatcher",
    "TriggersConfig",
    "UnknownTriggerError",
    "build_trigger",
    "build_triggers",
    "load_triggers",
    "lock_path",
    "parse_triggers",
    "psi",
    "retrain_lock",
    "state_path",
]
