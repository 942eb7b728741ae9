"""Settings of the trainer process. Env prefix ``FACTORYLOOP_TRAIN_``; Kafka: ``FACTORYLOOP_KAFKA_*``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryloop.settings import KafkaSettings, factoryloop_home


def _default_state_dir() -> Path:
    return factoryloop_home() / "training"


class TrainSettings(BaseSettings):
    """Where the trainer keeps state, how it reaches MLflow, and the gate/rollout policy."""

    model_config = SettingsConfigDict(env_prefix="FACTORYLOOP_TRAIN_", frozen=True, extra="ignore")

    state_dir: Path = Field(
        default_factory=_default_state_dir, description="Runs, locks, Ultralytics config."
    )
    mlflow_tracking_uri: str = Field(default="http://127.0.0.1:5000", description="MLflow tracking server.")
    experiment: str = Field(default="factoryloop-training", min_length=1)
    registered_model_prefix: str = Field(
        default="factoryloop-", description="Registered model = prefix+product."
    )
    # Training: a recipe (training.yolo.recipes) gives model, epochs, imgsz, batch and the trainer settings;
    # the fields below, when set, override it. A .pt model (fine-tune) uses ``finetune_recipe``.
    recipe: str = Field(default="cpu_fast", description="Recipe of a training from scratch.")
    finetune_recipe: str = Field(default="cpu_fast_finetune", description="Recipe of a fine-tune from a .pt.")
    base_model: str | None = Field(default=None, description="Scratch YAML or a .pt (default: the recipe's).")
    epochs: int | None = Field(default=None, ge=1)
    imgsz: int | None = Field(default=None, ge=32, le=4096)
    batch: int | None = Field(default=None, ge=1)
    device: str | None = Field(default=None, description="cuda:0, cpu, ... (default: cuda if available).")
    seed: int = 0
    # Gate policy.
    gate_margin: float = Field(
        default=0.01, ge=0.0, description="Challenger mAP50-95 must beat champion by this."
    )
    gate_max_recall_drop: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Per-class recall drop limit."
    )
    golden_fraction: float = Field(default=0.15, gt=0.0, lt=1.0)
    pseudo_label_min_confidence: float | None = Field(
        default=None,
        ge=0.5,
        le=1.0,
        description="Off (None) by default. Set: ingest stores outcomes whose detections all reach it as "
        "pseudo labels, and retrains train on them (never the golden set).",
    )
    max_train_images: int | None = Field(
        default=2000,
        ge=1,
        description="Train-split images per retrain (rare classes kept first, the rest a seeded draw): a "
        "line sends frames all day and a retrain's time grows with its images. None: all.",
    )
    rare_class_min_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Repeat images of classes seen in fewer training images (0: off).",
    )
    rare_class_max_repeat: int = Field(default=4, ge=1, description="At most this many copies of an image.")
    # Retention of the dataset store (`factoryloop dataset prune`, docs/operations.md "Retention").
    retention_images_days: int | None = Field(
        default=30,
        ge=0,
        description="Images in no dataset version and without a truth or pseudo label go after this many "
        "days (0 or unset: forever). Keep it above the API's review-queue retention.",
    )
    retention_batch_size: int = Field(default=500, ge=1, le=10_000, description="Images per transaction.")
    finetune_freeze_batchnorm: bool = Field(
        default=False,
        description="Fine-tunes keep the champion's BatchNorm statistics (training.yolo.train): no collapse "
        "on the one dataset where seed 0 collapsed, at some cost in accuracy (docs/benchmarks.md).",
    )
    finetune_precise_bn: int | None = Field(
        default=None,
        ge=0,
        description="Fine-tunes recompute the BatchNorm statistics of their final weights over this many "
        "augmented training images (training.yolo.precise_bn); 0: off; unset: the recipe's (1000).",
    )
    # Edge export: an INT8 twin of the ONNX (training.yolo.quantize), shipped when as good as fp32.
    edge_int8: bool = Field(
        default=True,
        description="Quantise each export to INT8 for the edge (~1.5x faster on a line PC's CPU); the "
        "deployment ships it only when it scores within int8_max_drop of fp32 on held-out images.",
    )
    int8_max_drop: float = Field(default=0.02, ge=0.0, le=1.0, description="Largest mAP50-95 loss allowed.")
    int8_max_class_drop: float = Field(default=0.05, ge=0.0, le=1.0, description="Largest class AP50 loss.")
    int8_calibration_images: int = Field(default=64, ge=1, le=1000, description="Calibration images.")
    # Rollout policy: a YAML per product (training.rollout.policy); without one, the default policy with the
    # window and limits below.
    rollout_policy_file: Path | None = Field(default=None, description="Rollout policy YAML (train watch).")
    canary_window_s: float = Field(default=300.0, gt=0.0)
    canary_max_errors: int = Field(default=0, ge=0)
    canary_max_latency_p99_ms: float = Field(default=200.0, gt=0.0)
    canary_max_defect_rate_jump: float = Field(default=0.2, ge=0.0, le=1.0)
    canary_max_override_rate: float = Field(default=0.3, ge=0.0, le=1.0)
    signing_key: SecretStr | None = Field(
        default=None, description="Fleet key: deployments published are HMAC-signed (factoryloop.signing)."
    )
    # Triggers.
    retrain_after_new_labels: int = Field(default=200, ge=1)
    triggers_file: Path | None = Field(default=None, description="Triggers YAML of `train watch`.")
    api_url: str | None = Field(default=None, description="Defect API to take queued retrain jobs from.")
    api_token: SecretStr | None = Field(default=None, description="Engineer token for the API.")
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the /metrics of `train watch` (and of `train ingest`); 0: none. Sites: 9320 "
        '(docs/operations.md "Monitoring").',
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @property
    def ultralytics_dir(self) -> Path:
        return self.state_dir / "ultralytics"

    def registered_model(self, product: str) -> str:
        return f"{self.registered_model_prefix}{product}"


@lru_cache(maxsize=1)
def get_settings() -> TrainSettings:
    return TrainSettings()
