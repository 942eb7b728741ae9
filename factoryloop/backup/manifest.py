"""The manifest of a backup archive (``manifest.json``): what was saved, from where, and each file's sha256.

An archive is a folder (or a ``.tar.gz`` of one) laid out like a factoryloop home: ``api/factoryloop.db``,
``api/frames/``, ``stack/mlflow/mlflow.db``, ``stack/mlflow/artifacts/``, ``datasets/``, ``training/``;
PostgreSQL databases are ``postgres/<component>.pgdump`` (``pg_dump -Fc``). ``manifest.json`` is at its root
(the first member of a tarball).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factoryloop.backup.errors import ArchiveError

FORMAT = "factoryloop-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20

ComponentKind = Literal["sqlite", "pg_dump", "files"]


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class Component(BaseModel):
    """One thing backed up (or skipped): ``target`` is its path under a restored home (None: a database
    restored into a URL)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: ComponentKind
    source: str
    target: str | None = None
    files: int = 0
    bytes: int = 0
    skipped: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["factoryloop-backup"] = "factoryloop-backup"
    format_version: int = FORMAT_VERSION
    created_at: str
    finished_at: str | None = None
    host: str
    home: str
    versions: dict[str, str] = Field(default_factory=dict)
    components: list[Component] = Field(default_factory=list)
    files: dict[str, FileEntry] = Field(default_factory=dict)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files.values())


def check_relpath(name: str) -> str:
    """``name`` if it is a plain relative POSIX path inside the archive (no ``..``, not absolute)."""
    if not name or PurePosixPath(name).is_absolute() or "\\" in name:
        raise ArchiveError(f"unsafe path {name!r} in the archive: refusing it")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ArchiveError(f"unsafe path {name!r} in the archive: refusing it")
    return name


def parse_manifest(data: bytes, where: str) -> Manifest:
    try:
        manifest = Manifest.model_validate_json(data)
    except ValidationError as exc:
        raise ArchiveError(f"{where}: not a factoryloop backup manifest ({str(exc)[:400]})") from exc
    if manifest.format_version > FORMAT_VERSION:
        raise ArchiveError(
            f"{where}: backup format {manifest.format_version} is newer than this factoryloop reads "
            f"({FORMAT_VERSION}); restore it with the version that wrote it ({manifest.versions})"
        )
    for name in manifest.files:
        check_relpath(name)
    for c in manifest.components:
        if c.target is not None:
            check_relpath(c.target)
        dump = c.details.get("file") if c.kind == "pg_dump" and not c.skipped else None
        if dump is not None and dump not in manifest.files:
            raise ArchiveError(f"{where}: the dump of {c.name} ({dump!r}) is not among the archive's files")
    return manifest


def dump_manifest(manifest: Manifest) -> bytes:
    return json.dumps(manifest.model_dump(mode="json"), indent=1, sort_keys=False).encode()


def manifest_digest(manifest: Manifest) -> str:
    """sha256 of the manifest's canonical form: recorded elsewhere (a ticket, a log), it shows later that the
    manifest, and so every file it lists, is the one written (the per-file sha256s alone catch corruption,
    not someone who rewrites the manifest too)."""
    return hashlib.sha256(dump_manifest(manifest)).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
