"""What a client says when the cluster refuses it (pure: from kafka-python's log lines)."""

from __future__ import annotations

import pytest
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from factoryloop.errors import KafkaAuthError, KafkaNotAuthorizedError, KafkaUnavailableError
from factoryloop.kafka.diagnose import connect_error, not_authorized
from factoryloop.settings import KafkaSettings

SITE = KafkaSettings(
    bootstrap_servers="127.0.0.1:1",  # nothing listens: the login probe learns nothing
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="agent",
    sasl_password=SecretStr("pw"),
)
TIMEOUT = KafkaTimeoutError("Unable to bootstrap")


def test_refused_password() -> None:
    log = ["Connection lost: [Error 58] SaslAuthenticationFailedError: invalid credentials"]
    error = connect_error(SITE, "to create a producer", TIMEOUT, log)
    assert isinstance(error, KafkaAuthError)
    assert "user 'agent'" in str(error) and "FACTORYLOOP_KAFKA_SASL_PASSWORD" in str(error)


def test_tls_failure() -> None:
    log = ["SSLCertVerificationError: certificate verify failed: unable to get local issuer certificate"]
    error = connect_error(SITE, "to consume labels", TIMEOUT, log)
    assert isinstance(error, KafkaAuthError) and "FACTORYLOOP_KAFKA_SSL_CAFILE" in str(error)


def test_transport_names_are_not_tls_failures() -> None:
    log = ["<KafkaSSLTransport [127.0.0.1:1<-2]>: socket disconnected"]
    error = connect_error(SITE, "to consume labels", TIMEOUT, log)
    assert type(error) is KafkaUnavailableError


def test_plaintext_client_gets_a_hint() -> None:
    error = connect_error(KafkaSettings(), "to create a producer", TIMEOUT, [])
    assert type(error) is KafkaUnavailableError and "SECURITY_PROTOCOL=SASL_SSL" in str(error)


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (TopicAuthorizationFailedError("plant.deployments"), "(TopicAuthorizationFailedError)"),
        # what kafka-python raises when the broker refuses the idempotent producer its id (no ACL applied yet)
        (
            KafkaError(f"Unexpected error in InitProducerIdResponse: {ClusterAuthorizationFailedError()}"),
            "on its producer id: it may write no topic yet",
        ),
    ],
)
def test_not_authorized(exc: Exception, says: str) -> None:
    error = not_authorized(SITE, "plant.deployments", exc)
    assert isinstance(error, KafkaNotAuthorizedError) and "user 'agent' is not allowed" in str(error)
    assert says in str(error)


def test_other_errors_are_not_refusals() -> None:
    assert not_authorized(SITE, "t", TIMEOUT) is None
    other = KafkaError("Unexpected error in InitProducerIdResponse: [Error 7] RequestTimedOutError")
    assert not_authorized(SITE, "t", other) is None
