"""The current model, persisted on local disk so a restart (even offline) serves the last good model at once.

``<state_dir>/models/current.onnx`` + ``current.json`` (ModelRef, class names, imgsz, deployment id,
product), each written to a temporary file, fsynced, then renamed: a crash leaves the old or the new model,
never half.

The models it replaced stay too (``kept/<order>-<sha256>.onnx``, the :data:`KEEP` most recent): a rollback
to the model served before a canary is loaded from disk, with no download, even while the server that holds
the model files (MLflow on a small site) does not answer. A kept file is used only when its sha256 is still
the deployment's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from edge_agent.detect.onnx_runtime import file_sha256
from factoryloop.schemas import ModelRef

logger = logging.getLogger(__name__)

KEEP = 2  # models kept besides the current one (the champion before a canary, the one before that)


@dataclass(frozen=True, slots=True)
class StoredModel:
    path: Path
    ref: ModelRef
    class_names: tuple[str, ...]
    imgsz: int
    deployment_id: str | None
    product: str | None = None


def _write_atomic(path: Path, write: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as f:
        if isinstance(write, Path):
            with write.open("rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
        else:
            assert isinstance(write, bytes)
            f.write(write)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class ModelStore:
    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "models"
        self.onnx = self.dir / "current.onnx"
        self.meta = self.dir / "current.json"
        self.kept_dir = self.dir / "kept"

    def save(
        self,
        artifact: Path,
        ref: ModelRef,
        class_names: tuple[str, ...],
        imgsz: int,
        deployment_id: str | None,
        product: str | None = None,
    ) -> StoredModel:
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self._keep_current(ref.sha256)
        except OSError as exc:  # a full disk costs the kept copy (a rollback downloads), never the swap
            logger.warning("the model being replaced is not kept: %s", exc)
        _write_atomic(self.onnx, artifact)
        meta = {
            "ref": ref.model_dump(mode="json"),
            "class_names": list(class_names),
            "imgsz": imgsz,
            "deployment_id": deployment_id,
            "product": product,
        }
        _write_atomic(self.meta, json.dumps(meta).encode())
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return StoredModel(self.onnx, ref, class_names, imgsz, deployment_id, product)

    def _keep_current(self, replacing_by: str | None) -> None:
        """The model about to be replaced is kept (its recorded sha256 names the file); the oldest go."""
        try:
            sha = json.loads(self.meta.read_text())["ref"].get("sha256") if self.meta.is_file() else None
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            logger.warning("the model being replaced is not kept: its metadata is unreadable: %s", exc)
            return
        if not sha or sha == replacing_by or not self.onnx.is_file():
            return
        self.kept_dir.mkdir(exist_ok=True)
        order = [int(p.stem.split("-", 1)[0]) for p in self._kept_files()]
        target = self.kept_dir / f"{max(order, default=0) + 1:06d}-{sha}.onnx"  # the most recent: last
        known = self._kept_file(sha)
        if known is not None:
            known.rename(target)
        else:
            _write_atomic(target, self.onnx)
        for old in self._kept_files()[:-KEEP]:
            old.unlink(missing_ok=True)

    def _kept_files(self) -> list[Path]:
        """``kept/<order>-<sha256>.onnx``, oldest first."""
        return sorted(self.kept_dir.glob("[0-9]*-*.onnx"))

    def _kept_file(self, sha256: str) -> Path | None:
        return next((p for p in self._kept_files() if p.stem.split("-", 1)[1] == sha256), None)

    def kept(self, sha256: str) -> Path | None:
        """A model this agent served before, still on disk and still ``sha256``; None otherwise."""
        path = self._kept_file(sha256)
        if path is None:
            return None
        if file_sha256(path) != sha256:
            logger.error("kept model %s does not match its sha256: removed (fetched again instead)", path)
            path.unlink(missing_ok=True)
            return None
        return path

    def load(self) -> StoredModel | None:
        """The persisted model, or ``None`` when there is none or it does not match its recorded sha256."""
        if not (self.onnx.is_file() and self.meta.is_file()):
            return None
        try:
            meta = json.loads(self.meta.read_text())
            ref = ModelRef.model_validate(meta["ref"])
        except (OSError, ValueError, KeyError) as exc:
            logger.error("persisted model metadata %s unreadable: %s", self.meta, exc)
            return None
        if ref.sha256 and file_sha256(self.onnx) != ref.sha256:
            logger.error("persisted model %s does not match its sha256; ignoring it", self.onnx)
            return None
        return StoredModel(
            self.onnx,
            ref,
            tuple(meta["class_names"]),
            int(meta["imgsz"]),
            meta.get("deployment_id"),
            meta.get("product"),  # absent in a file written before products
        )
