"""The current model, persisted on local disk so a restart (even offline) serves the last good model at once.

``<state_dir>/models/current.onnx`` + ``current.json`` (ModelRef, class names, imgsz, deployment id,
product), each written to a temporary file, fsynced, then renamed: a crash leaves the old or the new model,
never half.
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
