"""Draw detection boxes on a JPEG with OpenCV."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from api.errors import FrameStoreError


@dataclass(frozen=True, slots=True)
class OverlayBox:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    color: tuple[int, int, int]  # BGR


MODEL_COLOR = (40, 40, 230)
REVIEW_COLOR = (60, 200, 60)


def draw_boxes(jpeg: bytes, boxes: Iterable[OverlayBox], quality: int = 90) -> bytes:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameStoreError("stored frame is not a decodable JPEG", status=422, code="undecodable_frame")
    thickness = max(1, round(min(image.shape[:2]) / 300))
    for box in boxes:
        p1 = (round(box.x1), round(box.y1))
        p2 = (round(box.x2), round(box.y2))
        cv2.rectangle(image, p1, p2, box.color, thickness)
        cv2.putText(
            image,
            box.label,
            (p1[0], max(12, p1[1] - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            box.color,
            1,
            cv2.LINE_AA,
        )
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FrameStoreError("could not encode the overlay JPEG")
    return bytes(buf)
