"""Files that survive a crash or a power cut: written to a temporary name, flushed to the disk, renamed over
the target, then the folder's entry flushed too. A reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes, tmp: Path | None = None) -> None:
    """Replace ``path`` with ``data`` atomically and durably; ``tmp`` (default ``<path>.tmp<pid>``) is removed
    if anything fails. Raises the OSError of the step that failed."""
    tmp = tmp or path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
