"""Retrain jobs queued through the API (``POST /api/v1/retrains``) become retrain requests of this trainer.

The trainer is an API worker with an engineer token: it lists queued jobs oldest first, claims each one under
the token's name (``POST /retrains/{id}/claim``; a 409 means another worker won it), queues it here, and
reports its progress and end (``PATCH /retrains/{id}``) as the retrain runs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from training.errors import TrainingError
from training.triggers.base import RetrainRequest
from training.triggers.queue import RetrainQueue
from training.triggers.worker import RetrainReport

logger = logging.getLogger(__name__)
PREFIX = "/api/v1"


class ApiJobsError(TrainingError):
    """The API refused or could not be reached; the message has the status and what the API said."""


class ApiJobSource:
    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        *,
        timeout_s: float = 10,
        client: httpx.Client | None = None,
    ) -> None:
        """``client``: an already configured client for ``base_url`` (tests pass FastAPI's TestClient)."""
        self._owns_client = client is None
        self._headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        self._http = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, PREFIX + path, headers=self._headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiJobsError(
                f"{method} {path}: API unreachable ({exc}); is `factoryloop api serve` up?"
            ) from exc
        if response.status_code >= 400 and response.status_code != 409:
            raise ApiJobsError(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
        return response

    def poll(self, queue: RetrainQueue) -> list[RetrainRequest]:
        """Claim every queued job and submit it to ``queue``; returns the requests taken."""
        taken: list[RetrainRequest] = []
        for job in self._call("GET", "/retrains", params={"status": "queued", "limit": 50}).json():
            claimed = self._call("POST", f"/retrains/{job['id']}/claim")
            if claimed.status_code == 409:
                continue  # another worker was faster
            reason = job.get("reason") or f"requested by {job['requested_by']}"
            request = RetrainRequest(
                job["product"], "api", reason, datetime.now(UTC), job_ids=(int(job["id"]),)
            )
            admission = queue.submit(request)
            self.report_progress(request, f"claimed by {claimed.json()['claimed_by']}: {admission}")
            taken.append(request)
        return taken

    def report_progress(self, request: RetrainRequest, message: str) -> None:
        for job in request.job_ids:
            self._call("PATCH", f"/retrains/{job}", json={"message": message[:4000]})

    def report(self, report: RetrainReport) -> None:
        """Close the jobs behind ``report`` (those that came from the API) as succeeded or failed."""
        body = {
            "status": "succeeded" if report.ok else "failed",
            "message": report.summary[:4000],
            "result": {"summary": report.summary[:2000], "trigger": report.request.trigger},
        }
        for job in report.request.job_ids:
            self._call("PATCH", f"/retrains/{job}", json=body)

    def close(self) -> None:
        if self._owns_client:
            self._http.close()
