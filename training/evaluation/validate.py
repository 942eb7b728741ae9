"""Ultralytics' validator on an ONNX file, on CPU: overall and per-class detection numbers.

The same call as the gate's and the INT8 check's evaluation (:func:`training.yolo.evaluate.evaluate`), with
the validator's confidence and NMS IoU as options. Ultralytics' log lines go to stderr while it runs, so that
``--json`` output on stdout stays one document.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from training.evaluation.errors import EvaluationError
from training.yolo.offline import yolo_class
from training.yolo.train import ClassMetrics, summarize_box_metrics

logger = logging.getLogger(__name__)


@contextmanager
def logs_to_stderr(name: str = "ultralytics") -> Iterator[None]:
    """Point the stream handlers of logger ``name`` (Ultralytics': stdout) at stderr for a while."""
    moved = []
    for handler in logging.getLogger(name).handlers:
        if type(handler) is logging.StreamHandler and handler.stream not in (sys.stderr, sys.__stderr__):
            moved.append((handler, handler.setStream(sys.stderr)))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


def validate(
    onnx: Path,
    data_yaml: Path,
    *,
    imgsz: int,
    conf: float = 0.001,
    iou: float = 0.7,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, float], dict[str, ClassMetrics]]:
    """Precision, recall, mAP50, mAP50-95 and per-class numbers of ``onnx`` on ``data_yaml``'s val split.

    ``progress`` is called with 1 after each validated batch (one image: ONNX files validate one by one).
    """
    yolo = yolo_class()(str(onnx), task="detect")
    if progress is not None:
        yolo.add_callback("on_val_batch_end", lambda _validator: progress(1))
    try:
        with logs_to_stderr(), redirect_stdout(sys.stderr):  # its progress bar writes to stdout
            metrics: Any = yolo.val(
                data=str(data_yaml),
                split="val",
                imgsz=imgsz,
                batch=1,
                device="cpu",
                workers=0,
                plots=False,
                verbose=False,
                save_json=False,
                conf=conf,
                iou=iou,
            )
    except Exception as exc:  # Ultralytics raises many types
        raise EvaluationError(f"Ultralytics' validator failed on {onnx} with {data_yaml}: {exc}") from exc
    names = {int(k): str(v) for k, v in metrics.names.items()}
    overall, per_class = summarize_box_metrics(metrics.box, names)
    logger.info("validated %s on %s: %s", onnx, data_yaml, overall)
    return overall, per_class
