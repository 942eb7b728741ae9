"""Our ONNX detector against ultralytics' own predict on the tiny model: same boxes, scores and classes.

The exported ONNX has a fixed square input (imgsz x imgsz): the agent letterboxes every frame to it.
``YOLO.predict`` on a ``.pt`` defaults to ``rect=True``, a minimum-rectangle letterbox (224 x 192 for a
320 x 240 frame at imgsz 224): another input, on which this small model's scores move by up to ~0.2.
The ``.pt`` reference therefore runs with ``rect=False`` (the same square input, all else ultralytics'
defaults); the exported ``.onnx`` runs through ultralytics' predictor with its plain defaults (a fixed-size
model gets the square there). Compared: conf 0.25, IoU 0.7, max_det 300, class-aware NMS
(``agnostic_nms=False``), the ``names`` metadata, and an odd frame size (per-axis rounding of the resize).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import numpy as np
import pytest

from edge_agent.detect.decode import RawDetections
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector

pytestmark = pytest.mark.slow
FRAMES = 6
BOX_IOU, SCORE_TOL = 0.98, 0.01


@dataclass(frozen=True)
class Reference:
    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match(ours: RawDetections, ref: Reference, conf: float) -> int:
    """One-to-one: every reference box has one of ours (same class, IoU, score) and vice versa; the count.

    A box within ``SCORE_TOL`` of the threshold may exist on one side only (float noise between backends).
    """
    free = list(range(len(ours)))
    matched = 0
    for j in np.argsort(-ref.scores, kind="stable"):
        same = [i for i in free if int(ours.class_ids[i]) == int(ref.class_ids[j])]
        best = max(same, key=lambda i: iou(ours.xyxy[i], ref.xyxy[j]), default=None)
        if best is None or iou(ours.xyxy[best], ref.xyxy[j]) < BOX_IOU:
            assert ref.scores[j] <= conf + SCORE_TOL, f"reference box {j} has no match: {ref}"
            continue
        assert abs(float(ours.scores[best]) - float(ref.scores[j])) <= SCORE_TOL
        free.remove(best)
        matched += 1
    leftover = [float(ours.scores[i]) for i in free]
    assert all(s <= conf + SCORE_TOL for s in leftover), f"ours only: {leftover}"
    return matched


def frames() -> list[np.ndarray]:
    from tests.support.models import tiny_model_frames

    images = [f.image for f in tiny_model_frames(FRAMES)]
    # An odd size: the resize rounds each side differently (per-axis scale back, like scale_boxes).
    odd = cv2.resize(images[1], (333, 250), interpolation=cv2.INTER_AREA)
    return [*images, odd, np.ascontiguousarray(odd.transpose(1, 0, 2))]


def reference(yolo: Any, image: np.ndarray, **kw: Any) -> Reference:
    res = yolo.predict(image, verbose=False, device="cpu", **kw)[0]
    b = res.boxes
    return visible(Reference(b.xyxy.numpy(), b.conf.numpy(), b.cls.numpy().astype(int)))


def visible(raw: Any) -> Any:
    """Without the boxes that collapse to nothing once clipped to the frame (predicted wholly in the
    letterbox padding): both sides keep them, IoU cannot match them, and the agent never reports them
    (``to_detections``; training's parity check leaves them out too)."""
    keep = (raw.xyxy[:, 2] > raw.xyxy[:, 0]) & (raw.xyxy[:, 3] > raw.xyxy[:, 1])
    return type(raw)(raw.xyxy[keep], raw.scores[keep], raw.class_ids[keep])


CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # id: (artifact, our DetectorOptions overrides, ultralytics predict kwargs)
    "pt-defaults": ("pt", {}, {"rect": False}),
    "onnx-defaults": ("onnx", {}, {}),
    "pt-low-conf-tight-nms-max-det": (
        "pt",
        {"conf": 0.05, "iou": 0.45, "max_det": 3},
        {"rect": False, "conf": 0.05, "iou": 0.45, "max_det": 3},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_parity_with_ultralytics_predict(tiny: Any, case: str) -> None:
    from ultralytics import YOLO

    artifact, ours_kw, theirs_kw = CASES[case]
    ours = OnnxDetector(tiny.onnx, DetectorOptions(threads=1, **ours_kw))
    yolo = YOLO(str(tiny.pt if artifact == "pt" else tiny.onnx), task="detect")
    predict: Callable[[np.ndarray], Reference] = partial(reference, yolo, imgsz=tiny.imgsz, **theirs_kw)
    assert ours.imgsz == tiny.imgsz  # from the ONNX metadata
    assert ours.class_names == tiny.class_names
    if artifact == "pt":
        assert ours.class_names == tuple(yolo.names[i] for i in sorted(yolo.names))
    conf = ours.options.conf
    compared = sum(match(visible(ours.infer(image)), predict(image), conf) for image in frames())
    assert compared >= FRAMES // 2, "the tiny model detected (almost) nothing on the held-out frames"
