"""Errors of the dataset tooling; all subclass :class:`DatasetError` (itself a ``TrainingError``)."""

from __future__ import annotations

from training.errors import TrainingError


class DatasetError(TrainingError):
    """A dataset could not be imported, stored, versioned or exported; the message names the file."""


class CorruptFileError(DatasetError):
    """An image or annotation file is unreadable or malformed (the message says which file and line)."""


class UnknownFormatError(DatasetError):
    """No importer is registered for the requested format."""


class VersionNotFoundError(DatasetError):
    """No dataset version matches the given name or manifest hash."""
