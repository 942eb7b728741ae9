"""Retraining loop: dataset ingest from Kafka, YOLO training/export, MLflow registry + gate, rollout."""

import os

# A plant's trainer reaches nothing outside the site: no MLflow usage telemetry (its client also races on the
# environment variable that carries its session id when several threads call MLflow at once).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
