"""The rollbacks the rollout controller carried out while MLflow did not answer, kept on local disk until
MLflow records them: a failing model comes off the line at once instead of when MLflow is back.

One JSON file per registered model (``<trainer state dir>/rollout-journal/<registered model>.json``), written
whole and atomically: a temporary file, fsync'd, renamed over the old one, the folder fsync'd. A crash leaves
the old file or the new one, never half of one. A temporary file a crash left behind (a torn write) is ignored
with a warning and removed: the file before it holds (none: the rollback was not sent, since nothing is sent
before its entry is on disk). A file that does not parse is refused (:class:`JournalError`): the controller
stops rather than guess what was rolled back.
"""

from __future__ import annotations

import glob
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from factoryloop.durable import fsync_dir, write_durably
from factoryloop.schemas import Deployment, RolloutEvent
from training.errors import JournalError

logger = logging.getLogger(__name__)

SUFFIX = ".json"
TMP = ".json.tmp"


@dataclass(frozen=True)
class Unrecorded:
    """A rollback sent before MLflow recorded it: what MLflow is to record once it answers."""

    product: str
    rollout_id: str
    version: str  # the version rolled back
    reason: str  # tag rollout.reason
    evidence: dict[str, float]
    back_to: str | None  # the version its rollback deployment serves (None: an end_shadow); champion then
    ended: str  # ISO time it was carried out (tag rollout.ended)
    deployment: (
        Deployment  # signed: sent again, as it is, by a controller restarted before Kafka acknowledged
    )
    event: RolloutEvent
    request_id: str | None = None  # the engineer's rollback request it carried out (None: a judgement)
    sent: bool = False  # Kafka acknowledged the deployment


def _dumped(u: Unrecorded) -> dict[str, Any]:
    out = asdict(replace(u, deployment=None, event=None))  # type: ignore[arg-type]  # filled below
    out["deployment"] = u.deployment.model_dump(mode="json")
    out["event"] = u.event.model_dump(mode="json")
    return out


def _loaded(data: dict[str, Any]) -> Unrecorded:
    fields = dict(data)
    fields["deployment"] = Deployment.model_validate(fields["deployment"])
    fields["event"] = RolloutEvent.model_validate(fields["event"])
    fields["evidence"] = {str(k): float(v) for k, v in dict(fields["evidence"]).items()}
    u = Unrecorded(**fields)
    if not all(
        isinstance(getattr(u, f), str) for f in ("product", "rollout_id", "version", "reason", "ended")
    ):
        raise TypeError("product, rollout_id, version, reason and ended must be strings")
    return u


def default_journal_dir() -> Path:
    """``<trainer state dir>/rollout-journal`` (``FACTORYLOOP_TRAIN_STATE_DIR``)."""
    from training.settings import get_settings

    return get_settings().state_dir / "rollout-journal"


class RollbackJournal:
    """The journal of one registry's products (files named after the registered model: ``prefix`` +
    product); :attr:`pending`: product -> its rollback MLflow has not recorded yet (one at a time: nothing
    else is deployed for the product until MLflow answers)."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix
        self.pending: dict[str, Unrecorded] = {}

    def path(self, product: str) -> Path:
        name = f"{self.prefix}{product}"
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise JournalError(f"{name!r} cannot name a rollout journal file; rename the product")
        return self.folder / f"{name}{SUFFIX}"

    def load(self) -> dict[str, Unrecorded]:
        """Read every entry of this registry's products (:attr:`pending`); :class:`JournalError` for a file
        that does not parse."""
        self.pending = {}
        if not self.folder.is_dir():
            return self.pending
        for torn in sorted(self.folder.glob(f"{glob.escape(self.prefix)}*{TMP}")):
            logger.warning(
                "rollout journal: %s is a write a crash interrupted; ignored (the file it was to replace, if "
                "any, holds)",
                torn,
            )
            torn.unlink(missing_ok=True)
        for path in sorted(self.folder.glob(f"{glob.escape(self.prefix)}*{SUFFIX}")):
            product = path.name[len(self.prefix) : -len(SUFFIX)]
            try:
                u = _loaded(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError, ValidationError) as exc:
                raise JournalError(
                    f"rollout journal {path} is unreadable ({type(exc).__name__}: {exc}); the rollback it "
                    f"held may not be recorded in MLflow: check {self.prefix}{product}'s aliases (champion, "
                    "canary) and rollout.* tags in MLflow (`factoryloop train status`), fix them there (or "
                    "roll back with `factoryloop train rollback`), then delete the file"
                ) from exc
            if u.product != product:  # another prefix's product under the same registered model name
                logger.debug("rollout journal: %s is product %s's; not this registry's", path, u.product)
                continue
            self.pending[product] = u
            logger.warning(
                "rollout journal: %s v%s rolled back at %s, not recorded in MLflow yet",
                product,
                u.version,
                u.ended,
            )
        return self.pending

    def write(self, u: Unrecorded) -> None:
        """Durably (tmp + fsync + rename + fsync of the folder); :class:`JournalError` when it cannot."""
        path = self.path(u.product)
        tmp = path.with_name(path.name[: -len(SUFFIX)] + TMP)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_durably(path, json.dumps(_dumped(u), indent=1, sort_keys=True).encode(), tmp)
        except OSError as exc:
            raise JournalError(f"rollout journal {path} could not be written: {exc}") from exc
        self.pending[u.product] = u

    def clear(self, product: str) -> None:
        """MLflow recorded it (or it no longer applies): the entry goes."""
        path = self.path(product)
        try:
            if path.exists():
                path.unlink()
                fsync_dir(self.folder)
        except OSError as exc:
            raise JournalError(f"rollout journal {path} could not be removed: {exc}") from exc
        self.pending.pop(product, None)
