"""Reading and writing archives: a folder, or a ``.tar.gz`` of one whose first member is the manifest.

Every read checks each file against the manifest (size and sha256) and refuses, naming the file, one that is
missing, changed, truncated or not listed; a tarball cut short is refused naming the member it ends in.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from factoryloop.backup.errors import ArchiveError
from factoryloop.backup.manifest import CHUNK, MANIFEST, FileEntry, Manifest, check_relpath, parse_manifest
from factoryloop.backup.progress import Reporter

logger = logging.getLogger(__name__)

TAR_SUFFIXES = (".tar.gz", ".tgz")


def is_tarball(path: Path) -> bool:
    return path.name.endswith(TAR_SUFFIXES)


def _folder_members(root: Path) -> Iterator[tuple[str, IO[bytes]]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel == MANIFEST:
                continue
            if path.is_symlink():
                raise ArchiveError(f"{root}: {rel} is a symbolic link, not a file of a backup")
            with path.open("rb") as fh:
                yield rel, fh


def _tar_members(
    tar: tarfile.TarFile, first: tarfile.TarInfo, where: Path
) -> Iterator[tuple[str, IO[bytes]]]:
    for member in tar:
        if member is first or member.isdir():  # (the manifest, read already)
            continue
        if not member.isfile():
            raise ArchiveError(f"{where}: member {member.name} is not a regular file")
        fh = tar.extractfile(member)
        if fh is None:
            raise ArchiveError(f"{where}: member {member.name} cannot be read")
        yield member.name, fh


@contextmanager
def _members(archive: Path) -> Iterator[tuple[Manifest, Iterator[tuple[str, IO[bytes]]]]]:
    """The manifest and an iterator over the other files (name, readable stream) of ``archive``."""
    if archive.is_dir():
        mpath = archive / MANIFEST
        if not mpath.is_file():
            raise ArchiveError(f"{archive}: no {MANIFEST}: not a factoryloop backup")
        yield parse_manifest(mpath.read_bytes(), str(mpath)), _folder_members(archive)
        return
    if not archive.is_file():
        raise ArchiveError(f"no backup at {archive}")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise ArchiveError(f"{archive}: the first member is not {MANIFEST}: not a factoryloop backup")
            fh = tar.extractfile(first)
            assert fh is not None
            yield parse_manifest(fh.read(), f"{archive}:{MANIFEST}"), _tar_members(tar, first, archive)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"{archive}: unreadable or truncated tarball ({exc})") from exc


def _copy_checked(
    name: str, src: IO[bytes], entry: FileEntry, dest: Path | None, reporter: Reporter, where: Path
) -> None:
    h = hashlib.sha256()
    size = 0
    out = None
    if dest is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = dest.open("wb")
    try:
        while True:
            try:
                chunk = src.read(CHUNK)
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                raise ArchiveError(f"{where}: {name} is truncated or corrupt ({exc})") from exc
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
            reporter.advance(len(chunk))
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    if size != entry.size:
        raise ArchiveError(f"{where}: {name} has {size} bytes, the manifest says {entry.size} (truncated?)")
    if h.hexdigest() != entry.sha256:
        raise ArchiveError(f"{where}: {name} does not match its sha256 in the manifest (changed or corrupt)")


def read(archive: Path, dest: Path | None = None, reporter: Reporter | None = None) -> Manifest:
    """Check every file of ``archive`` against its manifest; with ``dest``, write them under it too.

    Raises :class:`ArchiveError` naming the first file missing, changed, truncated or not listed."""
    reporter = reporter or Reporter()
    with _members(archive) as (manifest, members):
        reporter.begin(f"checking {archive.name}" if dest is None else "extracting", manifest.total_bytes)
        seen: set[str] = set()
        for name, stream in members:
            check_relpath(name)
            entry = manifest.files.get(name)
            if entry is None:
                raise ArchiveError(f"{archive}: {name} is not in the manifest (added after the backup?)")
            if name in seen:
                raise ArchiveError(f"{archive}: {name} appears twice")
            seen.add(name)
            _copy_checked(name, stream, entry, dest / name if dest else None, reporter, archive)
        reporter.end()
    missing = sorted(set(manifest.files) - seen)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ArchiveError(f"{archive}: {missing[0]}{more} listed in the manifest is missing (truncated?)")
    logger.info("%s: %d files, %d bytes match the manifest", archive, len(seen), manifest.total_bytes)
    return manifest


def write_tarball(folder: Path, out: Path, manifest: Manifest, reporter: Reporter | None = None) -> None:
    """Pack ``folder`` (an archive folder) into ``out``: the manifest first, then its files in order."""
    reporter = reporter or Reporter()
    reporter.begin(f"writing {out.name}", manifest.total_bytes)
    with tarfile.open(out, "w:gz", compresslevel=3) as tar:
        tar.add(folder / MANIFEST, arcname=MANIFEST)
        for name, entry in sorted(manifest.files.items()):
            tar.add(folder / name, arcname=name, recursive=False)
            reporter.advance(entry.size)
    reporter.end()
