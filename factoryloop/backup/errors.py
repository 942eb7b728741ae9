"""Errors of ``factoryloop backup``; each message names the file or setting at fault and what to do."""

from __future__ import annotations

from factoryloop.errors import FactoryloopError


class BackupError(FactoryloopError):
    """A backup could not be created or restored."""


class ArchiveError(BackupError):
    """An archive is not a factoryloop backup, or one of its files is missing, changed or truncated."""


class TargetNotEmptyError(BackupError):
    """A restore was asked into a home that already holds files (``--force`` replaces what it restores)."""
