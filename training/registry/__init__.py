"""MLflow runs, the model registry (aliases challenger/champion), golden sets and the promotion gate."""

from training.registry.gate import GateDecision, GatePolicy, decide, run_gate
from training.registry.golden import (
    ensure_golden,
    export_golden,
    export_recent,
    export_training,
    golden_hashes,
)
from training.registry.mlflow_run import LoggedModel, git_revision, log_training
from training.registry.models import CHALLENGER, CHAMPION, ModelRegistry, RegisteredVersion

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "GateDecision",
    "GatePolicy",
    "LoggedModel",
    "ModelRegistry",
    "RegisteredVersion",
    "decide",
    "ensure_golden",
    "export_golden",
    "export_recent",
    "export_training",
    "git_revision",
    "golden_hashes",
    "log_training",
    "run_gate",
]
