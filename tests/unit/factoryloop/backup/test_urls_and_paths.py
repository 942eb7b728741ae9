"""Database URLs (passwords never on a command line nor in a manifest) and archive paths (nothing outside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryloop.backup.errors import ArchiveError
from factoryloop.backup.manifest import check_relpath
from factoryloop.backup.postgres import is_postgres, libpq, redact, sqlite_path
from factoryloop.backup.sources import local_folder


def test_postgres_urls_lose_their_driver_and_password() -> None:
    url = "postgresql+psycopg://fl:p%40ss@db.site:5433/factoryloop?sslmode=require"
    uri, env = libpq(url)
    assert uri == "postgresql://fl@db.site:5433/factoryloop?sslmode=require"
    assert env["PGPASSWORD"] == "p@ss"
    assert redact(url) == "postgresql+psycopg://fl:***@db.site:5433/factoryloop?sslmode=require"
    assert redact("postgresql://fl@db/x") == "postgresql://fl@db/x"
    assert is_postgres(url) and is_postgres("postgres://a@b/c") and not is_postgres("sqlite:///x.db")


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:////var/lib/fl/api/factoryloop.db") == Path("/var/lib/fl/api/factoryloop.db")
    assert sqlite_path("sqlite:///relative.db") == Path("relative.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("mysql://x/y") is None


def test_artifact_locations() -> None:
    assert local_folder("/var/lib/fl/mlflow/artifacts") == Path("/var/lib/fl/mlflow/artifacts")
    assert local_folder("file:///var/lib/fl/art%20s") == Path("/var/lib/fl/art s")
    assert local_folder("s3://bucket/artifacts") is None


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "", "a\\b", "./a"])
def test_paths_outside_the_archive_are_refused(name: str) -> None:
    with pytest.raises(ArchiveError, match="unsafe path"):
        check_relpath(name)


def test_plain_paths_pass() -> None:
    assert check_relpath("datasets/images/ab/ab12.jpg") == "datasets/images/ab/ab12.jpg"
