"""An onnxruntime YOLO detector: letterbox -> session -> decode, with warm-up and the model's own metadata."""

from __future__ import annotations

import ast
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edge_agent.detect.decode import RawDetections, decode, layout_of
from edge_agent.detect.letterbox import Prepared, prepare
from edge_agent.errors import DetectorError
from factoryloop.schemas import Box, Detection

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    imgsz: int | None = None
    threads: int = 1
    class_names: tuple[str, ...] | None = None
    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    warmup_runs: int = 2


def _metadata(session: ort.InferenceSession) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map or {})


def parse_names(raw: str) -> tuple[str, ...]:
    """Ultralytics writes ``names`` as a Python dict literal ``{0: 'scratch', ...}``."""
    value = ast.literal_eval(raw)
    if isinstance(value, dict):
        return tuple(str(value[k]) for k in sorted(value))
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise DetectorError(f"cannot read class names from metadata {raw[:100]!r}")


def _meta_imgsz(raw: str | None) -> int | None:
    if not raw:
        return None
    value = ast.literal_eval(raw)
    return int(value[0]) if isinstance(value, list | tuple) else int(value)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class OnnxDetector:
    """Thread-compatible for one caller at a time per instance (the inference thread)."""

    def __init__(self, path: str | Path, options: DetectorOptions | None = None) -> None:
        self.path = Path(path)
        opts = options or DetectorOptions()
        self.options = opts
        so = ort.SessionOptions()
        so.intra_op_num_threads = opts.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own non-exported exception types
            raise DetectorError(f"{self.path}: cannot load ONNX model: {exc}") from exc
        meta = _metadata(self.session)
        self.metadata = meta
        names = opts.class_names or (parse_names(meta["names"]) if "names" in meta else None)
        if not names:
            raise DetectorError(
                f"{self.path}: no class names in the model metadata; set detector.class_names"
            )
        self.class_names: tuple[str, ...] = tuple(names)
        bad = [n for n in self.class_names if not 1 <= len(n) <= 64]
        if bad:  # checked once here: detections are then built without per-frame validation
            raise DetectorError(f"{self.path}: class names must be 1-64 characters, got {bad[:3]}")
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.imgsz = opts.imgsz or _meta_imgsz(meta.get("imgsz")) or 640
        fixed = [d for d in inp.shape[2:] if isinstance(d, int)]
        if fixed and fixed[0] != self.imgsz:
            raise DetectorError(f"{self.path}: input is fixed at {fixed[0]} px but imgsz is {self.imgsz}")
        self.sha256 = file_sha256(self.path)
        self.layout: str | None = None

    @property
    def nc(self) -> int:
        return len(self.class_names)

    def prepare(self, image: np.ndarray) -> Prepared:
        """The model input of ``image`` (letterbox + tensor), for :meth:`infer` to take ready-made."""
        return prepare(image, self.imgsz)

    def infer(self, image: np.ndarray, prepared: Prepared | None = None) -> RawDetections:
        """Detect in ``image``; ``prepared`` (from :meth:`prepare` of a model of the same input size) skips
        the pre-processing. One made for another size (a model swapped in meanwhile) is made again."""
        if prepared is None or prepared.size != self.imgsz:
            prepared = prepare(image, self.imgsz)
        out = np.asarray(self.session.run(None, {self.input_name: prepared.tensor})[0])
        if self.layout is None:
            self.layout = layout_of(tuple(out.shape), self.nc)
        o = self.options
        raw = decode(out, prepared.info, self.nc, o.conf, o.iou, o.max_det)
        if len(raw) and not 0 <= int(raw.class_ids.min()) <= int(raw.class_ids.max()) < self.nc:
            ids = (int(raw.class_ids.min()), int(raw.class_ids.max()))
            raise DetectorError(f"class ids {ids} out of range for {self.nc} classes")
        return raw

    def detect(self, image: np.ndarray, prepared: Prepared | None = None) -> tuple[Detection, ...]:
        return to_detections(self.infer(image, prepared), self.class_names)

    def warmup(self, runs: int | None = None, shape: tuple[int, int] = (480, 640)) -> float:
        """Run ``runs`` inferences on a grey frame; return the last latency in ms."""
        frame = np.full((*shape, 3), 114, np.uint8)
        last = 0.0
        for _ in range(self.options.warmup_runs if runs is None else runs):
            t0 = time.perf_counter()
            self.infer(frame)
            last = (time.perf_counter() - t0) * 1000
        return last


def to_detections(raw: RawDetections, class_names: tuple[str, ...]) -> tuple[Detection, ...]:
    out = []
    for (x1, y1, x2, y2), score, cid in zip(
        raw.xyxy.tolist(), raw.scores.tolist(), raw.class_ids.tolist(), strict=True
    ):
        if x2 <= x1 or y2 <= y1:
            continue  # collapsed to nothing after clipping to the frame
        # Valid by construction (finite, clipped to the frame, x2 > x1, names checked at load): no validation
        out.append(
            Detection.model_construct(
                class_id=int(cid),
                class_name=class_names[int(cid)],
                confidence=min(max(float(score), 0.0), 1.0),
                box=Box.model_construct(x1=x1, y1=y1, x2=x2, y2=y2),
            )
        )
    return tuple(out)
