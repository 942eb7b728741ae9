"""Retention of the dataset store (``factoryloop dataset prune``): images ingested but never needed go after
``retention_images_days``.

An image goes when it was added before the cutoff and
- no dataset version references it (the golden sets are versions, ``golden-<product>``),
- it has no label that a version could take: human, simulated, imported or pseudo (only raw predictions, or no
  label at all) and no review,
- no event of the ingest waits for it (a review parked until its outcome arrives).

Everything a version or the golden set uses is never touched, so every version still exports byte-identical
files after a prune. Batches of ``batch_size`` images: each is selected, checked against the versions
(re-read inside the transaction, so a version frozen meanwhile is seen) and deleted in one ``BEGIN IMMEDIATE``
transaction; the files go after it commits. A version saved while its images were being pruned is refused by
the store (``DatasetStore._save_version`` checks every image is there), so neither order loses a file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from factoryloop.retention import KindFigures, retention_days
from training.datasets.store import DatasetStore
from training.datasets.types import Provenance

logger = logging.getLogger(__name__)

KIND = "dataset images"
#: Labels a version can be frozen from (retrains take truth and, when enabled, pseudo labels).
KEEP_PROVENANCES = (Provenance.HUMAN, Provenance.SIMULATED, Provenance.IMPORT, Provenance.PSEUDO)
#: Called after each batch: images examined, images that could go (counted before the walk).
ProgressFn = Callable[[int, int], None]

_CANDIDATES = """
FROM images i WHERE i.added_at < ? AND i.hash > ?
AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.image_hash = i.hash AND l.provenance IN ({marks}))
AND NOT EXISTS (SELECT 1 FROM labels l JOIN reviews r ON r.label_id = l.id WHERE l.image_hash = i.hash)
"""


def _candidates_sql(select: str) -> str:
    marks = ",".join("?" for _ in KEEP_PROVENANCES)
    return f"SELECT {select} " + _CANDIDATES.format(marks=marks)


def _args(cutoff: float, after: str) -> list[object]:
    return [cutoff, after, *(p.value for p in KEEP_PROVENANCES)]


@dataclass
class _Versions:
    """The hashes every version references, re-read when a version was added."""

    names: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)

    def refresh(self, db: sqlite3.Connection) -> set[str]:
        names = {r[0] for r in db.execute("SELECT name FROM versions")}
        for name in names - self.names:
            (manifest,) = db.execute("SELECT manifest FROM versions WHERE name = ?", (name,)).fetchone()
            self.hashes.update(img["hash"] for img in json.loads(manifest)["images"])
        self.names = names
        return self.hashes


def _pending(state: Path | None, hashes: Iterable[str]) -> set[str]:
    """Frames an ingest event is parked on (``training.ingest.state``), when the ingest state exists."""
    wanted = list(hashes)
    if state is None or not state.is_file() or not wanted:
        return set()
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        marks = ",".join("?" for _ in wanted)
        rows = db.execute(f"SELECT frame_sha256 FROM pending WHERE frame_sha256 IN ({marks})", wanted)
        return {r[0] for r in rows}
    except sqlite3.OperationalError:  # a state made before the pending table: nothing is parked
        return set()
    finally:
        db.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def prune_images(
    store: DatasetStore,
    days: int | None,
    *,
    dry_run: bool,
    now: datetime | None = None,
    batch_size: int = 500,
    ingest_state: Path | None = None,
    progress: ProgressFn | None = None,
) -> KindFigures:
    """Delete (or, ``dry_run``, count) the images nothing needs that are older than ``days``; the figures of
    what went. ``ingest_state``: the ingest's bookkeeping (default: beside the store)."""
    kept_days = retention_days(days)
    if kept_days is None:
        return KindFigures(kind=KIND, days=None, cutoff=None)
    now = now or datetime.now(UTC)
    cutoff_dt = now.timestamp() - kept_days * 86400
    cutoff = datetime.fromtimestamp(cutoff_dt, UTC)
    state = ingest_state if ingest_state is not None else store.root / "ingest-state.sqlite"
    db = store._db
    older = int(store._query("SELECT COUNT(*) FROM images WHERE added_at < ?", (cutoff_dt,))[0][0])
    total = int(store._query(_candidates_sql("COUNT(*)"), _args(cutoff_dt, ""))[0][0])
    versions, after = _Versions(), ""
    rows = size = examined = 0
    while True:
        with store._lock if dry_run else store._tx():  # a dry run only reads
            batch = [
                r[0]
                for r in db.execute(
                    _candidates_sql("i.hash") + " ORDER BY i.hash LIMIT ?",
                    [*_args(cutoff_dt, after), batch_size],
                )
            ]
            if not batch:
                break
            needed = versions.refresh(db) | _pending(state, batch)
            gone = [h for h in batch if h not in needed]
            if gone and not dry_run:
                marks = ",".join("?" for _ in gone)
                db.execute(f"DELETE FROM labels WHERE image_hash IN ({marks})", gone)
                db.execute(f"DELETE FROM images WHERE hash IN ({marks})", gone)
        sizes = [_size(store.image_path(h)) for h in gone]
        if not dry_run:
            _unlink(store, gone)
        rows, size, examined, after = rows + len(gone), size + sum(sizes), examined + len(batch), batch[-1]
        if progress is not None:
            progress(examined, total)
        if len(batch) < batch_size:
            break
    logger.info(
        "%s %d dataset images (%d bytes) added before %s; %d older kept",
        "would prune" if dry_run else "pruned",
        rows,
        size,
        cutoff.isoformat(),
        older - rows,
    )
    return KindFigures(kind=KIND, days=kept_days, cutoff=cutoff, rows=rows, bytes=size, kept=older - rows)


def _unlink(store: DatasetStore, hashes: list[str]) -> None:
    """Remove the files of images whose rows are gone; say so if an image came back meanwhile (the same JPEG
    ingested again between the commit and the unlink: its row would point at no file)."""
    for h in hashes:
        store.image_path(h).unlink(missing_ok=True)
    if not hashes:
        return
    marks = ",".join("?" for _ in hashes)
    back = [r[0] for r in store._query(f"SELECT hash FROM images WHERE hash IN ({marks})", hashes)]
    if back:
        logger.error(
            "%d image(s) were ingested again while being pruned and lost their file (e.g. %s): replay them "
            "from the frames topic or delete their rows",
            len(back),
            back[0],
        )
