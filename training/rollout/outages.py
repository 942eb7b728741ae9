"""The servers the rollout controller needs, and what it does while one does not answer.

MLflow: every transition is recorded there before its deployment goes out, so while it does not answer the
controller makes none (a stage whose window ended waits: its agents keep what they serve) but rollbacks (a
stage that failed, an engineer's rollback: journaled, sent, recorded once it answers:
:mod:`training.rollout.rollbacks`) and asks it again every ``retry_s`` (its health check, not the MLflow
client's minutes of retries); Kafka: nothing
new is judged or sent (:mod:`training.rollout.outbox`) and the stages in flight restart their window once it
answers, so each is judged on a full window of live evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from factoryloop.schemas import RolloutRequest
from factoryloop.settings import KafkaSettings
from training.rollout.stages import Active, Step

logger = logging.getLogger(__name__)


class Outage:
    """Whether one server answers, as the controller last saw it; probed every ``retry_s`` while down."""

    def __init__(
        self,
        name: str,
        where: str,
        probe: Callable[[], bool],
        retry_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.where = where
        self.probe = probe
        self.retry_s = retry_s
        self.clock = clock
        self.down_since: float | None = None
        self.error: str | None = None
        self._next_probe = 0.0

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def describe(self) -> str:
        return f"{self.name} at {self.where} does not answer ({self.error})"

    def mark_down(self, error: str) -> None:
        now = self.clock()
        self._next_probe = now + self.retry_s
        self.error = error[:500]
        if self.down_since is None:
            self.down_since = now
            logger.warning(
                "%s: what the rollout controller needs it for waits (its `waiting` says what; retry every "
                "%.0f s)",
                self.describe(),
                self.retry_s,
            )

    def mark_up(self) -> float | None:
        """It answered; how long it was down (None: it was not)."""
        if self.down_since is None:
            return None
        down_s = self.clock() - self.down_since
        self.down_since, self.error = None, None
        logger.warning("%s at %s answers again after %.1f s: rollouts go on", self.name, self.where, down_s)
        return down_s

    def check(self) -> bool:
        """True when up; while down, probe when due (and mark it up if it answers)."""
        if self.down_since is None:
            return True
        if self.clock() < self._next_probe:
            return False
        if self.probe():
            self.mark_up()
            return True
        self._next_probe = self.clock() + self.retry_s
        return False


class KafkaProbe:
    """A metadata request to the cluster with short timeouts (one long-lived admin client, rebuilt after a
    failure): tells the controller that Kafka went away even while it sends nothing."""

    def __init__(self, settings: KafkaSettings, timeout_s: float = 3.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self.error: str | None = None
        self._admin: Any = None

    def __call__(self) -> bool:
        from kafka import KafkaAdminClient

        try:
            if self._admin is None:
                ms = int(self.timeout_s * 1000)
                config = self.settings.client_config() | {
                    "request_timeout_ms": ms,
                    "client_id": f"{self.settings.client_id}-rollout-probe",
                }
                self._admin = KafkaAdminClient(**config, bootstrap_timeout_ms=ms)
            self._admin.describe_cluster()
        except Exception as exc:  # kafka-python raises KafkaError subclasses, OSError or ValueError
            self.error = f"{type(exc).__name__}: {exc}"
            self.close()
            return False
        self.error = None
        return True

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception:  # a client that lost its broker may fail to close; it is dropped anyway
                logger.debug("closing the rollout controller's Kafka probe failed", exc_info=True)


def mlflow_waits(
    down: str, steps: list[Step], active: dict[str, Active], pending: list[RolloutRequest]
) -> dict[str, tuple[str, str]]:
    """Product -> (what waits, said when it changes; the text) while MLflow is down (``down`` says so)."""
    waits: dict[str, tuple[str, str]] = {}
    for s in steps:
        r = active[s.product].rollout
        text = (
            f"{down}: waiting to {s.describe(r)}; it is recorded there before it is deployed, so nothing is "
            "deployed until it answers"
        )
        waits[s.product] = (f"{r.rollout_id}/{r.stage}/{s.rollback}", text)
    for req in pending:
        waits.setdefault(
            req.product, (req.request_id, f"{down}: request {req.request_id} ({req.action}) waits")
        )
    return waits
