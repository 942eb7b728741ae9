"""Content-addressed frame store. Only a local directory today; the interface is what an S3 store needs.

Frames are immutable and named by the sha256 of their bytes, so writes are idempotent and a reader never
sees a
partial file (write to a temp name, then rename).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.errors import FrameStoreError, NotFoundError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_sha256(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise FrameStoreError(f"not a sha256 hex digest: {sha256[:80]!r}", status=422, code="invalid_request")
    return sha256


class FrameStore(ABC):
    """Where JPEG bytes live. ``put`` returns the store-relative key recorded in the ``frames`` table."""

    @abstractmethod
    def put(self, sha256: str, data: bytes) -> str: ...

    @abstractmethod
    def get(self, sha256: str) -> bytes: ...

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abstractmethod
    def delete(self, sha256: str) -> bool:
        """Remove a frame's bytes (retention: its row is already gone); False if it was not there."""


class LocalFrameStoreConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["local"] = "local"
    root: Path


FrameStoreConfig = Annotated[LocalFrameStoreConfig, Field(discriminator="type")]


class LocalFrameStore(FrameStore):
    """``root/ab/cd/abcd....jpg``: two levels of fan-out keep directories small."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser()
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(sha256: str) -> str:
        check_sha256(sha256)
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.jpg"

    def path(self, sha256: str) -> Path:
        return self.root / self.key(sha256)

    def put(self, sha256: str, data: bytes) -> str:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise FrameStoreError(f"frame bytes do not match sha256 {sha256}")
        key = self.key(sha256)
        target = self.root / key
        if target.exists():
            return key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise FrameStoreError(f"cannot write frame {sha256} under {self.root}: {exc}") from exc
        return key

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"frame {sha256} is not in the frame store") from exc

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise FrameStoreError(f"cannot delete frame {sha256} under {self.root}: {exc}") from exc
        return True


class UnknownFrameStoreError(FrameStoreError):
    pass


def make_frame_store(config: LocalFrameStoreConfig) -> FrameStore:
    """Build the store a config names (registry of implementations)."""
    registry: dict[str, type[LocalFrameStore]] = {"local": LocalFrameStore}
    impl = registry.get(config.type)
    if impl is None:
        raise UnknownFrameStoreError(f"unknown frame store type {config.type!r}; known: {sorted(registry)}")
    return impl(config.root)
