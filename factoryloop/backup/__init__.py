"""Backup and restore of a factoryloop home: the API database and frame store, MLflow (backend store and
artifacts), the dataset store (index, images, product catalog) and the trainer's state databases.

``factoryloop backup create | restore | verify`` (``factoryloop.cli.backup``); docs/backup.md.
"""

from factoryloop.backup.create import create_backup
from factoryloop.backup.errors import ArchiveError, BackupError, TargetNotEmptyError
from factoryloop.backup.manifest import Manifest
from factoryloop.backup.restore import RestoreResult, restore_backup, verify_archive
from factoryloop.backup.sources import Sources, discover

__all__ = [
    "ArchiveError",
    "BackupError",
    "Manifest",
    "RestoreResult",
    "Sources",
    "TargetNotEmptyError",
    "create_backup",
    "discover",
    "restore_backup",
    "verify_archive",
]
