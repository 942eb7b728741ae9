"""PostgreSQL databases in a backup: ``pg_dump -Fc`` out, ``pg_restore`` in. The tools never prompt for a
password (``--no-password``): a scheduled job fails instead of hanging.

URLs may be SQLAlchemy's (``postgresql+psycopg://user:pw@host/db``); the tools get a libpq URI without the
password, which goes in ``PGPASSWORD`` (not on a command line that ``ps`` shows).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from factoryloop.backup.errors import BackupError

logger = logging.getLogger(__name__)


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme.split("+", 1)[0] in ("postgresql", "postgres")


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (SQLAlchemy's and MLflow's form); None for another URL."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :].split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(unquote(path)).expanduser()


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for manifests, logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI (no driver, no password) and the environment that carries the password."""
    parts = urlsplit(url)
    env = dict(os.environ)
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit(parts._replace(scheme="postgresql", netloc=netloc)), env


def tool(name: str, pg_bin: Path | None) -> str:
    if pg_bin is not None:
        path = pg_bin / name
        if not path.is_file():
            raise BackupError(f"no {name} in {pg_bin} (--pg-bin)")
        return str(path)
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client (Debian: postgresql-client) of the "
            "server's major version or newer, or point --pg-bin at its bin folder"
        )
    return found


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({cmd[0]} exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    return done.stdout


def version(name: str, pg_bin: Path | None) -> str:
    return _run([tool(name, pg_bin), "--version"], dict(os.environ), f"{name} --version").strip()


def dump(url: str, out: Path, pg_bin: Path | None = None) -> None:
    """``pg_dump -Fc`` of the database at ``url`` into ``out`` (one consistent snapshot: pg_dump reads in a
    single repeatable-read transaction; the database stays online)."""
    uri, env = libpq(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [tool("pg_dump", pg_bin), "--no-password", "-Fc", "--file", str(out), "--dbname", uri]
    _run(cmd, env, f"pg_dump {redact(url)}")
    logger.info("pg_dump of %s: %d bytes", redact(url), out.stat().st_size)


def user_tables(url: str, pg_bin: Path | None = None) -> list[str]:
    """Tables outside PostgreSQL's own schemas in the database at ``url``."""
    uri, env = libpq(url)
    sql = (
        "SELECT schemaname || '.' || tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
    )
    out = _run(
        [tool("psql", pg_bin), "-XAtqw", "-d", uri, "-c", sql], env, f"listing tables of {redact(url)}"
    )
    return [line for line in out.splitlines() if line.strip()]


def restore(dump_file: Path, url: str, *, clean: bool, pg_bin: Path | None = None) -> None:
    """``pg_restore`` a ``-Fc`` dump into the database at ``url``, in one transaction (all or nothing).

    Objects are owned by the connecting user (``--no-owner --no-acl``): the target need not have the source's
    roles. ``clean``: drop the objects the dump creates first (``--force``)."""
    uri, env = libpq(url)
    cmd = [tool("pg_restore", pg_bin), "--no-password", "--no-owner", "--no-acl", "--exit-on-error"]
    cmd.append("--single-transaction")
    if clean:
        cmd += ["--clean", "--if-exists"]
    _run([*cmd, "--dbname", uri, str(dump_file)], env, f"pg_restore into {redact(url)}")
    logger.info("restored %s into %s", dump_file.name, redact(url))
