"""Copying a live folder into an archive: files hashed as they are copied, SQLite databases snapshotted.

Skipped on purpose (and counted in the component's details): temporary files of an atomic write in progress
(``.tmp-*``, ``*.tmp<pid>``), lock files, the ``-wal``/``-shm``/``-journal`` files of a database (its snapshot
holds their content) and symbolic links. A file that disappears while the folder is copied (a temporary file
renamed) is counted as vanished.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from factoryloop.backup.errors import BackupError
from factoryloop.backup.manifest import CHUNK, Component, FileEntry, sha256_file
from factoryloop.backup.progress import Reporter
from factoryloop.backup.sqlite_snapshot import is_sidecar, is_sqlite, snapshot

logger = logging.getLogger(__name__)

_TEMPORARY = re.compile(r"(^\.tmp|\.tmp\d+(\.\d+)?$|\.partial$)")
_LOCKS = {".lock"}


def _skip_reason(path: Path) -> str | None:
    if path.is_symlink():
        return "symlinks"
    if _TEMPORARY.search(path.name):
        return "temporary"
    if path.name in _LOCKS:
        return "locks"
    if is_sidecar(path):
        return "sqlite_sidecars"
    return None


class TreeCopier:
    """Copies into ``staging`` and remembers each archived file's sha256 and size (``files``)."""

    def __init__(self, staging: Path, reporter: Reporter) -> None:
        self.staging = staging
        self.reporter = reporter
        self.files: dict[str, FileEntry] = {}

    def record(self, rel: str) -> int:
        """Hash a file written under staging; returns its size."""
        path = self.staging / rel
        size = path.stat().st_size
        self.files[rel] = FileEntry(sha256=sha256_file(path), size=size)
        return size

    def _copy(self, src: Path, rel: str) -> int | None:
        """Copy and hash ``src`` into ``rel``; None when it vanished meanwhile."""
        dst = self.staging / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        try:
            with src.open("rb") as fh, dst.open("wb") as out:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                    self.reporter.advance(len(chunk))
            shutil.copystat(src, dst)
        except FileNotFoundError:
            dst.unlink(missing_ok=True)
            return None
        self.files[rel] = FileEntry(sha256=h.hexdigest(), size=size)
        return size

    def _snapshot(self, src: Path, rel: str) -> tuple[int, dict[str, Any]]:
        details = snapshot(src, self.staging / rel)
        size = self.record(rel)
        self.reporter.advance(src.stat().st_size)
        return size, details

    def sqlite_file(self, name: str, path: Path, target: str) -> Component:
        """One live SQLite database, restored at ``target``."""
        self.reporter.begin(name, path.stat().st_size)
        size, details = self._snapshot(path, target)
        self.reporter.end()
        return Component(
            name=name, kind="sqlite", source=str(path), target=target, files=1, bytes=size, details=details
        )

    def tree(self, name: str, folder: Path, target: str, *, only_sqlite: bool = False) -> Component:
        """Everything under ``folder`` (``only_sqlite``: its top-level SQLite databases), at ``target``.

        The databases are snapshotted first; then the folder is listed again and its files copied, so that
        every file a snapshot's rows name (written before they committed) is in the archive."""
        component = Component(name=name, kind="files", source=str(folder), target=target)
        if not folder.is_dir():
            component.skipped = f"no folder {folder}"
            return component
        databases, _, _ = _scan(folder, only_sqlite, set())
        sqlite_details: dict[str, Any] = {}

        def snapshot_all(paths: list[Path]) -> None:
            self.reporter.begin(f"{name} (databases)", sum(_size(p) for p in paths))
            for path in paths:
                rel = path.relative_to(folder).as_posix()
                size, sqlite_details[rel] = self._snapshot(path, f"{target}/{rel}")
                component.files, component.bytes = component.files + 1, component.bytes + size
            self.reporter.end()

        if databases:
            snapshot_all(databases)
        late, others, skipped = _scan(folder, only_sqlite, set(databases))
        if late:  # databases created meanwhile
            snapshot_all(late)
        self.reporter.begin(name, sum(_size(p) for p in others))
        vanished = 0
        for path in others:
            size_or_none = self._copy(path, f"{target}/{path.relative_to(folder).as_posix()}")
            if size_or_none is None:
                vanished += 1
                continue
            component.files, component.bytes = component.files + 1, component.bytes + size_or_none
        self.reporter.end()
        if sqlite_details:
            component.details["sqlite"] = sqlite_details
        if skipped:
            component.details["skipped_files"] = skipped
        if vanished:
            component.details["vanished_files"] = vanished
        logger.info("%s: %d files, %d bytes from %s", name, component.files, component.bytes, folder)
        return component


def _scan(folder: Path, only_sqlite: bool, known: set[Path]) -> tuple[list[Path], list[Path], dict[str, int]]:
    """The SQLite databases (not in ``known``), the other files to copy, and the count left out per
    reason."""
    skipped: dict[str, int] = {}
    databases: list[Path] = []
    others: list[Path] = []
    for path in sorted(folder.iterdir()) if only_sqlite else _walk(folder):
        reason = _skip_reason(path)
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
        elif path in known or not path.is_file():
            continue
        elif is_sqlite(path):
            databases.append(path)
        elif not only_sqlite:
            others.append(path)
    return databases, others, skipped


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _walk(folder: Path) -> list[Path]:
    out: list[Path] = []
    try:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            out.extend(Path(dirpath) / f for f in sorted(filenames))
            # A symlinked folder is listed as skipped rather than followed.
            out.extend(Path(dirpath) / d for d in dirnames if (Path(dirpath) / d).is_symlink())
    except OSError as exc:
        raise BackupError(f"cannot list {folder}: {exc}") from exc
    return out
