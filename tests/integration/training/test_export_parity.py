"""verify_onnx_parity on the trained tiny model: a box wholly in the letterbox padding (it collapses to zero
height when clipped to the frame; the agent never reports one) is not a mismatch, a visible extra box is."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from training.errors import ExportMismatchError
from training.yolo import export
from training.yolo.onnx_ref import RefDetection


@pytest.mark.parametrize(
    ("extra_y1", "mismatch"),
    [
        (0, False),  # y1 == y2 == frame height: predicted in the padding below the frame
        (30, True),  # 30 px high inside the frame: a real detection ONNX did not make
    ],
)
def test_parity_leaves_out_collapsed_boxes(
    tiny: Any, monkeypatch: pytest.MonkeyPatch, extra_y1: int, mismatch: bool
) -> None:
    from tests.support.models import tiny_model_frames

    real = export._pt_detections

    def with_extra(yolo: Any, image: np.ndarray, imgsz: int, conf: float, iou: float) -> list[RefDetection]:
        h, w = image.shape[:2]
        extra = RefDetection(4, 0.46, w - 40.0, float(h - extra_y1), w - 3.0, float(h))
        return [*real(yolo, image, imgsz, conf, iou), extra]

    monkeypatch.setattr(export, "_pt_detections", with_extra)
    frames = [f.image for f in tiny_model_frames(2)]
    if mismatch:
        with pytest.raises(ExportMismatchError, match="missing from onnx"):
            export.verify_onnx_parity(tiny.pt, tiny.onnx, frames, tiny.imgsz)
    else:
        report = export.verify_onnx_parity(tiny.pt, tiny.onnx, frames, tiny.imgsz)
        assert report.matched == report.pt_detections == report.onnx_detections > 0
