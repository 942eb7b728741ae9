"""Fixtures shared by the integration tests (the session's real Kafka/MLflow come from tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from factoryloop.kafka import ensure_topics
from factoryloop.settings import KafkaSettings


@pytest.fixture
def kafka_settings_factory(kafka_bootstrap: str) -> Callable[..., KafkaSettings]:
    """Make KafkaSettings with a fresh topic prefix and factoryloop's topics created under it."""

    def make(*, create_topics: bool = True, **overrides: object) -> KafkaSettings:
        settings = KafkaSettings(
            bootstrap_servers=kafka_bootstrap,
            topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
            **overrides,  # type: ignore[arg-type]
        )
        if create_topics:
            ensure_topics(settings)
        return settings

    return make


@pytest.fixture
def kafka_settings(kafka_settings_factory: Callable[..., KafkaSettings]) -> KafkaSettings:
    """KafkaSettings on the session broker with all topics created under a prefix unique to this test."""
    return kafka_settings_factory()


TEST_MODELS = Path.home() / ".cache" / "factoryloop" / "test-models"


@pytest.fixture(scope="session")
def tiny() -> Any:
    """The tiny YOLO trained on simulator frames (tests/support/models.py), built once per content key."""
    pytest.importorskip("ultralytics")
    from tests.support.models import tiny_model

    return tiny_model(TEST_MODELS)
