"""One retrain at a time per product: an exclusive, non-blocking lock file under the state dir."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from training.errors import RetrainBusyError


def lock_path(state_dir: Path, product: str) -> Path:
    return state_dir / "locks" / f"retrain-{product}.lock"


@contextmanager
def retrain_lock(state_dir: Path, product: str) -> Iterator[Path]:
    """Hold the product's retrain lock, or raise :class:`RetrainBusyError` naming the holder."""
    path = lock_path(state_dir, product)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RetrainBusyError(
                f"a retrain of {product!r} is already running (pid {holder}, lock {path}); wait for it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
