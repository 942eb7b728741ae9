"""The alert thread of the API process: builds rules and channels from the alerts file and the settings,
evaluates every ``alerts_interval_s`` and hands notices to the dispatcher (its own threads)."""

from __future__ import annotations

import logging
import threading

from api.alerts.config import AlertsConfig, load_alerts
from api.alerts.delivery import SmtpServer, build_channel
from api.alerts.delivery.dispatcher import Delivery, Dispatcher
from api.alerts.evaluator import Clock, Evaluator, utc_now
from api.alerts.rules import build_rule
from api.alerts.store import record_delivery
from api.db.engine import Database
from api.settings import ApiSettings

logger = logging.getLogger(__name__)


def smtp_server(settings: ApiSettings) -> SmtpServer | None:
    if not settings.smtp_host:
        return None
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        timeout_s=settings.smtp_timeout_s,
    )


class AlertRunner:
    """``start`` / ``stop`` like the sink's supervisor; ``evaluator.run_once`` evaluates on demand."""

    def __init__(
        self,
        db: Database,
        config: AlertsConfig,
        settings: ApiSettings,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.clock = clock
        self.interval_s = settings.alerts_interval_s
        smtp = smtp_server(settings)
        self.dispatcher = Dispatcher([build_channel(c, smtp) for c in config.channels], self._record)
        self.evaluator = Evaluator(db, [build_rule(r) for r in config.rules], self.dispatcher.submit, clock)
        self.runs = 0  # evaluations done (failed ones included): tests wait on it, not on time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    @classmethod
    def from_settings(cls, db: Database, settings: ApiSettings) -> AlertRunner | None:
        """None when no alerts file is configured; :class:`~api.alerts.errors.AlertConfigError` if invalid."""
        if settings.alerts_file is None:
            return None
        return cls(db, load_alerts(settings.alerts_file), settings)

    def _record(self, delivery: Delivery) -> None:
        with self.db.session() as s:
            record_delivery(s, delivery, self.clock())

    def start(self) -> None:
        self.dispatcher.start()
        self._thread.start()
        logger.info(
            "alerts: %d rule(s), %d channel(s), every %.1f s",
            len(self.evaluator.rules),
            len(self.dispatcher.channels),
            self.interval_s,
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.evaluator.run_once()
            except Exception:  # thread boundary: a database outage must not end the alerts for good
                logger.exception("alert evaluation failed; next try in %.1f s", self.interval_s)
            self.runs += 1
            self._stop.wait(self.interval_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        self.dispatcher.stop(timeout_s)
