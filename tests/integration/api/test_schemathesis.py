"""Property-based requests generated from the OpenAPI schema, with an admin token: no 5xx anywhere.

Kafka and MLflow are real, so upstream-dependent routes answer for real. Examples are kept few for CI time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from api.security import Role
from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.integration.api.helpers import wait_for
from tests.support.events import heartbeat, outcome

pytestmark = [pytest.mark.kafka, pytest.mark.mlflow, pytest.mark.slow]
MAX_EXAMPLES = int(os.environ.get("FACTORYLOOP_TEST_FUZZ_EXAMPLES", "6"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: overrides the sqlite/postgres parametrisation (the SQL is covered on both elsewhere)."""
    return f"sqlite:///{tmp_path / 'api.db'}"


def test_no_server_errors(api_factory, kafka_settings: KafkaSettings, mlflow_server: str) -> None:
    api = api_factory(kafka_settings, mlflow_tracking_uri=mlflow_server)
    with EventProducer(kafka_settings) as producer:
        producer.send_sync(TopicRole.OUTCOMES, outcome(event_id="e" * 32))
        producer.send_sync(TopicRole.HEARTBEATS, heartbeat())
    wait_for(lambda: api.get("/api/v1/inspections/" + "e" * 32).status_code == 200 or None, what="seed data")
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
    headers = api.headers(Role.ADMIN)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # collect every failing operation, then fail once
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n".join(failures)
