"""Retraining loop: dataset ingest from Kafka, YOLO training/export, MLflow registry + gate, rollout."""
