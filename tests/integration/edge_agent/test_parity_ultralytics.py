"""Our ONNX detector against ultralytics' own predict on the tiny model: same boxes, scores and classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector

pytestmark = pytest.mark.slow
CACHE = Path.home() / ".cache" / "factoryloop" / "test-models"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def test_parity_with_ultralytics_predict() -> None:
    pytest.importorskip("ultralytics")
    from ultralytics import YOLO

    from tests.support.models import tiny_model, tiny_model_frames

    model = tiny_model(CACHE)
    ours = OnnxDetector(model.onnx, DetectorOptions(imgsz=model.imgsz, conf=0.25, iou=0.7))
    theirs = YOLO(str(model.pt))
    compared = 0
    for frame in tiny_model_frames(8):
        raw = ours.infer(frame.image)
        res = theirs.predict(frame.image, imgsz=model.imgsz, conf=0.25, iou=0.7, verbose=False, device="cpu")[
            0
        ]
        ref_xyxy = res.boxes.xyxy.numpy()
        ref_conf = res.boxes.conf.numpy()
        ref_cls = res.boxes.cls.numpy().astype(int)
        assert len(raw) == len(ref_conf), (raw.scores, ref_conf)
        order = np.argsort(-ref_conf, kind="stable")
        for i, j in enumerate(order):
            assert raw.class_ids[i] == ref_cls[j]
            assert abs(float(raw.scores[i]) - float(ref_conf[j])) <= 0.01
            assert iou(raw.xyxy[i], ref_xyxy[j]) >= 0.98
            compared += 1
    assert compared > 0, "the tiny model detected nothing on the held-out frames"
