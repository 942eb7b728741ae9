"""Durable file replacement: the new bytes or the old file, and no temporary file left either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from factoryloop.durable import write_durably


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    write_durably(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_rename_keeps_the_old_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a folder where the file should go: the rename fails
    (target / "inside").write_bytes(b"old")
    with pytest.raises(OSError):
        write_durably(target, b"new")
    assert (target / "inside").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
