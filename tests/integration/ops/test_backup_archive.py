"""What a restore refuses, and what a backup leaves out on purpose: a changed, missing, added or truncated
file is refused naming it before anything is written; a non-empty home is refused naming what it holds
(``--force`` replaces only what the backup restores, stale ``-wal`` files included); the CLI says the same."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryloop.backup import (
    ArchiveError,
    BackupError,
    Manifest,
    TargetNotEmptyError,
    create_backup,
    discover,
    restore_backup,
    verify_archive,
)
from factoryloop.backup.manifest import manifest_digest
from factoryloop.cli.backup import app
from tests.integration.ops.home import api_settings, seed_api, seed_datasets, seed_trainer

FRAME_PREFIX = "api/frames/"


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A folder backup of a home with an API database and frames, a dataset store and trainer state (no
    MLflow: skipped, and said so)."""
    root = tmp_path_factory.mktemp("backup")
    home = root / "home"
    seed_api(api_settings(home))
    seed_datasets(home / "datasets")
    seed_trainer(home / "training")
    (home / "datasets" / "products" / ".tmp123").write_text("half-written")  # an atomic write in progress
    return create_backup(root / "archive", discover(home))


@pytest.fixture
def archive(backup: tuple[Path, Manifest], tmp_path: Path) -> Path:
    """A copy of the module's backup that a test may damage."""
    return Path(shutil.copytree(backup[0], tmp_path / "archive"))


def _a_frame(archive: Path) -> str:
    return next(
        p.relative_to(archive).as_posix() for p in sorted((archive / "api" / "frames").rglob("*.jpg"))
    )


def test_manifest_says_what_was_saved_and_skipped(backup: tuple[Path, Manifest]) -> None:
    folder, manifest = backup
    by_name = {c.name: c for c in manifest.components}
    assert by_name["api-db"].kind == "sqlite" and by_name["api-db"].target == "api/factoryloop.db"
    assert by_name["api-frames"].files == 12
    assert "no database file" in str(by_name["mlflow-db"].skipped)
    assert "no folder" in str(by_name["mlflow-artifacts"].skipped)
    datasets = by_name["datasets"]
    assert set(datasets.details["sqlite"]) == {"index.sqlite"}
    left_out = datasets.details["skipped_files"]
    assert left_out["locks"] == 1 and left_out["temporary"] == 1
    assert set(left_out) <= {"locks", "temporary", "sqlite_sidecars"}  # (the snapshot's read opens a WAL)
    assert not any(name.endswith(("-wal", "-shm", ".lock")) for name in manifest.files)
    assert set(by_name["training-state"].details["sqlite"]) == {"trainer-state.sqlite"}
    assert {"python", "sqlite", "factoryloop"} <= set(manifest.versions)
    checked = verify_archive(folder)
    assert checked.files == manifest.files
    assert manifest_digest(checked) == manifest_digest(manifest)


def test_a_changed_file_is_refused_by_name_before_anything_is_written(archive: Path, tmp_path: Path) -> None:
    frame = _a_frame(archive)
    data = bytearray((archive / frame).read_bytes())
    data[100] ^= 0xFF
    (archive / frame).write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=f"{frame} does not match its sha256"):
        verify_archive(archive)
    target = tmp_path / "target"
    with pytest.raises(ArchiveError, match=frame):
        restore_backup(archive, target)
    assert not target.exists()
    result = CliRunner().invoke(app, ["verify", str(archive)])
    assert result.exit_code == 1 and frame in result.output.replace("\n", "")


def test_a_missing_or_added_file_is_refused(archive: Path) -> None:
    frame = _a_frame(archive)
    (archive / frame).unlink()
    with pytest.raises(ArchiveError, match=f"{frame} listed in the manifest is missing"):
        verify_archive(archive)
    (archive / "api" / "frames" / "extra.jpg").write_bytes(b"not mine")
    with pytest.raises(ArchiveError, match=r"extra\.jpg is not in the manifest"):
        verify_archive(archive)


def test_a_truncated_tarball_is_refused(backup: tuple[Path, Manifest], tmp_path: Path) -> None:
    home = tmp_path / "home"
    restore_backup(backup[0], home)
    tarball, _ = create_backup(tmp_path / "b.tar.gz", discover(home))
    verify_archive(tarball)
    size = tarball.stat().st_size
    with tarball.open("r+b") as fh:
        fh.truncate(size * 2 // 3)
    with pytest.raises(ArchiveError, match="truncated"):
        verify_archive(tarball)
    with pytest.raises(ArchiveError):
        restore_backup(tarball, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_a_non_empty_home_is_refused_unless_forced(backup: tuple[Path, Manifest], tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "api").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    stale = home / "api" / "factoryloop.db-wal"
    stale.write_bytes(b"stale wal of another database")
    with pytest.raises(TargetNotEmptyError, match=r"holds api, notes\.txt"):
        restore_backup(backup[0], home)
    result = CliRunner().invoke(app, ["restore", str(backup[0]), "--home", str(home)])
    assert result.exit_code == 1 and "notes.txt" in result.output
    restore_backup(backup[0], home, force=True)
    assert (home / "notes.txt").read_text() == "mine"  # not the backup's: kept
    assert not stale.exists()
    assert (home / "api" / "factoryloop.db").is_file()
    assert not [p for p in home.iterdir() if p.name.startswith(".restore-partial")]


def test_the_cli_backs_up_verifies_and_restores(backup: tuple[Path, Manifest], tmp_path: Path) -> None:
    home = tmp_path / "home"
    restore_backup(backup[0], home)
    runner = CliRunner()
    made = runner.invoke(app, ["create", str(tmp_path / "b.tgz"), "--home", str(home)])
    assert made.exit_code == 0, made.output
    assert "mlflow-db" in made.output and "manifest sha256" in made.output
    checked = runner.invoke(app, ["verify", str(tmp_path / "b.tgz")])
    files = len(verify_archive(tmp_path / "b.tgz").files)
    assert checked.exit_code == 0 and f"OK, {files} files match" in " ".join(checked.output.split())
    restored = runner.invoke(app, ["restore", str(tmp_path / "b.tgz"), "--home", str(tmp_path / "new")])
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "new" / "datasets" / "index.sqlite").is_file()


def test_a_backup_never_overwrites_nor_copies_itself(backup: tuple[Path, Manifest], tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="exists already"):
        create_backup(backup[0], discover(tmp_path / "home"))
    home = tmp_path / "home"
    restore_backup(backup[0], home)
    with pytest.raises(BackupError, match="inside"):
        create_backup(home / "datasets" / "b", discover(home))


def test_a_postgres_dump_needs_a_target_url(archive: Path, tmp_path: Path) -> None:
    manifest = Manifest.model_validate_json((archive / "manifest.json").read_bytes())
    api_db = manifest.component("api-db")
    assert api_db is not None
    api_db.kind, api_db.target, api_db.source = "pg_dump", None, "postgresql://u:***@db/api"
    api_db.details = {"file": "api/factoryloop.db"}
    (archive / "manifest.json").write_text(manifest.model_dump_json())
    with pytest.raises(BackupError, match="--api-db-url"):
        restore_backup(archive, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_the_locations_come_from_the_processes_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYLOOP_API_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    monkeypatch.setenv("FACTORYLOOP_DATASETS", str(tmp_path / "store"))
    monkeypatch.setenv("FACTORYLOOP_TRAIN_STATE_DIR", str(tmp_path / "trainer"))
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", "postgresql+psycopg://ml:secret@db/mlflow")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", "s3://bucket/artifacts")
    before = os.environ.get("FACTORYLOOP_HOME")
    sources = discover(tmp_path / "home")
    assert os.environ.get("FACTORYLOOP_HOME") == before
    assert sources.home == tmp_path / "home"
    assert sources.api_db_url == f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert sources.frames_dir == tmp_path / "home" / "api" / "frames"
    assert sources.datasets_dir == tmp_path / "store"
    assert sources.training_state_dir == tmp_path / "trainer"
    assert sources.mlflow_backend_uri.startswith("postgresql")
    overridden = discover(tmp_path / "home", datasets_dir=tmp_path / "other")
    assert overridden.datasets_dir == tmp_path / "other"


@pytest.mark.parametrize(
    ("target", "error"), [("../escape", "unsafe path"), ("etc", "unknown restore target")]
)
def test_a_manifest_naming_another_place_is_refused(
    archive: Path, tmp_path: Path, target: str, error: str
) -> None:
    manifest = Manifest.model_validate_json((archive / "manifest.json").read_bytes())
    frames = manifest.component("api-frames")
    assert frames is not None
    frames.target = target
    (archive / "manifest.json").write_text(manifest.model_dump_json())
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep").write_text("mine")
    with pytest.raises(BackupError, match=error):
        restore_backup(archive, home, force=True)
    assert sorted(p.name for p in home.iterdir()) == ["keep"]
