"""Why a client could not connect: kafka-python retries a refused login or TLS handshake until its bootstrap
timeout and then only says "Unable to bootstrap"; the reason is in its log. :func:`explained` watches that
log while a client is created and turns the failure into an error that says what to check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from kafka.errors import AuthorizationError, ClusterAuthorizationFailedError

from factoryloop.errors import KafkaAuthError, KafkaNotAuthorizedError, KafkaUnavailableError
from factoryloop.kafka.sasl_probe import probe_login
from factoryloop.settings import KafkaSettings

_TLS_SIGNS = ("SSLError", "SSLCertVerification", "CERTIFICATE_VERIFY_FAILED", "certificate verify failed")
_SIGNS = ("SaslAuthenticationFailed", "UnsupportedSaslMechanism", *_TLS_SIGNS)
DOCS = "docs/security.md"


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call in the library must not break ours
            return
        if any(sign in message for sign in _SIGNS) and len(self.messages) < 20:
            self.messages.append(message)


def connect_error(
    settings: KafkaSettings, what: str, exc: BaseException, log: list[str]
) -> KafkaUnavailableError:
    """The error to raise for ``exc`` (a failed connection while ``what``), given kafka-python's log lines."""
    if settings.sasl_mechanism and not any(sign in line for line in log for sign in _SIGNS):
        reason = probe_login(settings)  # the library may have lost the broker's reason: ask once more
        log = [*log, reason] if reason else log
    text = " ".join(log) + " " + repr(exc)
    where = f"Kafka at {settings.bootstrap_servers}"
    if "SaslAuthenticationFailed" in text:
        return KafkaAuthError(
            f"{where} refused the credentials of user {settings.sasl_username!r} ({settings.sasl_mechanism}) "
            f"{what}: check FACTORYLOOP_KAFKA_SASL_USERNAME and FACTORYLOOP_KAFKA_SASL_PASSWORD (the role's "
            f"env file written by 'factoryloop site init') and that the brokers were formatted with this "
            f"site's users ({DOCS})"
        )
    if "UnsupportedSaslMechanism" in text:
        return KafkaAuthError(
            f"{where} does not offer SASL mechanism {settings.sasl_mechanism} {what}: check "
            f"FACTORYLOOP_KAFKA_SASL_MECHANISM (a site uses SCRAM-SHA-512; {DOCS})"
        )
    if any(sign in text for sign in _TLS_SIGNS):
        return KafkaAuthError(
            f"TLS handshake with {where} failed {what} ({log[-1] if log else exc!r}): check that "
            f"FACTORYLOOP_KAFKA_SSL_CAFILE ({settings.ssl_cafile}) is the site's ca.pem and that the broker "
            f"address is one the site's broker certificates name ({DOCS})"
        )
    hint = ""
    if settings.security_protocol == "PLAINTEXT":
        hint = (
            "; if these are a site's brokers (TLS + SASL only), load the role's env file from "
            f"'factoryloop site init' (FACTORYLOOP_KAFKA_SECURITY_PROTOCOL=SASL_SSL and friends; {DOCS})"
        )
    return KafkaUnavailableError(f"cannot reach {where} {what}: {exc!r}{hint}")


@contextmanager
def explained(settings: KafkaSettings) -> Iterator[list[str]]:
    """Collect kafka-python's connection warnings (auth, TLS) while the block creates a client."""
    recorder = _Recorder()
    target = logging.getLogger("kafka")
    target.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        target.removeHandler(recorder)


def not_authorized(settings: KafkaSettings, topic: str, exc: BaseException) -> KafkaNotAuthorizedError | None:
    """A clear error when ``exc`` is the cluster's ACLs refusing a write to ``topic``; else None.

    An idempotent producer first asks for a producer id, which the broker grants only to a user allowed to
    write some topic: before a site's ACLs reach the broker it is refused with a cluster authorization error
    that kafka-python wraps in a plain ``KafkaError`` (the producer cannot send again: its owner drops it).
    """
    if isinstance(exc, AuthorizationError):
        name = type(exc).__name__
    elif ClusterAuthorizationFailedError.__name__ in str(exc):
        name = f"{ClusterAuthorizationFailedError.__name__} on its producer id: it may write no topic yet"
    else:
        return None
    return KafkaNotAuthorizedError(
        f"{topic}: user {settings.sasl_username!r} is not allowed to write here ({name}): "
        f"nothing was written. A site's ACLs give each role its own topics ('factoryloop site acls', {DOCS})"
    )
