"""Letterbox geometry, YOLO output decoding and NMS on synthetic outputs, and the ONNX detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.detect.decode import decode, decode_e2e, decode_yolo, layout_of
from edge_agent.detect.letterbox import PAD_VALUE, LetterboxInfo, letterbox, prepare, to_tensor, unletterbox
from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector, parse_names
from edge_agent.errors import DetectorError
from tests.support.edge_onnx import CLASS_NAMES, e2e_output, write_constant_model, yolo_output


@pytest.mark.parametrize(
    ("shape", "size", "gain", "pad"),
    [
        ((480, 640), 640, 1.0, (0, 80)),
        ((480, 640), 320, 0.5, (0, 40)),
        ((640, 480), 320, 0.5, (40, 0)),
        ((100, 100), 64, 0.64, (0, 0)),
        ((300, 1000), 256, 0.256, (0, 89)),
    ],
)
def test_letterbox_geometry(shape: tuple[int, int], size: int, gain: float, pad: tuple[int, int]) -> None:
    img = np.full((*shape, 3), 7, np.uint8)
    out, info = letterbox(img, size)
    assert out.shape == (size, size, 3)
    assert info.gain == pytest.approx(gain)
    assert (info.pad_x, info.pad_y) == pad
    if pad[1]:
        assert (out[0] == PAD_VALUE).all() and (out[-1] == PAD_VALUE).all()
    assert out[size // 2, size // 2, 0] == 7


def test_to_tensor_is_rgb_nchw_unit_range() -> None:
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0] = 255  # blue in BGR
    t = to_tensor(img)
    assert t.shape == (1, 3, 2, 2) and t.dtype == np.float32
    assert t[0, 2].max() == 1.0 and t[0, 0].max() == 0.0


def test_unletterbox_round_trip_and_clip() -> None:
    info = LetterboxInfo(gain=0.5, pad_x=0, pad_y=40, orig_w=640, orig_h=480)
    boxes = np.array([[10, 50, 30, 70], [-5, 0, 400, 400]], float)
    out = unletterbox(boxes, info)
    assert out[0].tolist() == [20, 20, 60, 60]
    assert out[1].tolist() == [0, 0, 640, 480]


INFO = LetterboxInfo(gain=1.0, pad_x=0, pad_y=0, orig_w=200, orig_h=200)


def test_decode_yolo_confidence_filter_and_classwise_nms() -> None:
    out = yolo_output(
        [
            (50, 50, 20, 20, 0, 0.9),
            (52, 50, 20, 20, 0, 0.8),  # same class, overlapping: one survives
            (51, 50, 20, 20, 1, 0.7),  # other class, same place: kept (class-aware NMS)
            (150, 150, 10, 10, 2, 0.1),
        ],  # below conf
        nc=5,
    )
    raw = decode_yolo(out, INFO, conf=0.25, iou=0.5, max_det=300)
    assert raw.class_ids.tolist() == [0, 1]
    assert raw.scores.tolist() == pytest.approx([0.9, 0.7])
    assert raw.xyxy[0].tolist() == pytest.approx([40, 40, 60, 60])


def test_decode_yolo_max_det_and_empty() -> None:
    out = yolo_output([(20 * i + 10, 10, 8, 8, 0, 0.5 + i / 100) for i in range(8)], nc=5)
    assert len(decode_yolo(out, INFO, 0.25, 0.5, max_det=3)) == 3
    assert len(decode_yolo(yolo_output([], 5), INFO, 0.25, 0.5, 300)) == 0


def test_decode_e2e() -> None:
    out = e2e_output([(10, 10, 30, 30, 0.9, 3), (0, 0, 5, 5, 0.1, 1)])
    raw = decode_e2e(out, INFO, conf=0.25, max_det=300)
    assert raw.class_ids.tolist() == [3]
    assert raw.xyxy[0].tolist() == pytest.approx([10, 10, 30, 30])


@pytest.mark.parametrize(
    ("shape", "nc", "layout"),
    [
        ((1, 9, 100), 5, "yolo"),
        ((1, 100, 6), 5, "e2e"),
        ((1, 6, 8400), 2, "yolo"),
        ((1, 84, 8400), None, "yolo"),
    ],
)
def test_layouts(shape: tuple[int, ...], nc: int | None, layout: str) -> None:
    assert layout_of(shape, nc) == layout


@pytest.mark.parametrize("shape", [(1, 9), (2, 9, 100), (1, 7, 100)])
def test_bad_layouts(shape: tuple[int, ...]) -> None:
    with pytest.raises(DetectorError):
        layout_of(shape, 5)


def test_nan_output_refused() -> None:
    out = yolo_output([(50, 50, 20, 20, 0, 0.9)], 5)
    out[0, 0, 0] = np.nan
    with pytest.raises(DetectorError, match="NaN"):
        decode(out, INFO, 5, 0.25, 0.5, 300)


def test_parse_names() -> None:
    assert parse_names("{0: 'scratch', 1: 'dent'}") == ("scratch", "dent")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    return tmp_path_factory.mktemp("onnx")


def test_detector_maps_boxes_to_original_pixels(models: Path) -> None:
    # 160 px input, a 640x480 frame: gain 0.25, pad_y 20. Box centred at (80, 80), 40x40 in model pixels.
    path = write_constant_model(models / "m.onnx", yolo_output([(80, 80, 40, 40, 1, 0.9)], 5), imgsz=160)
    det = OnnxDetector(path, DetectorOptions(threads=1))
    assert det.class_names == CLASS_NAMES and det.imgsz == 160
    (d,) = det.detect(np.zeros((480, 640, 3), np.uint8))
    assert (d.class_name, round(d.confidence, 3)) == ("dent", 0.9)
    assert (d.box.x1, d.box.y1, d.box.x2, d.box.y2) == (240, 160, 400, 320)
    assert det.warmup(2) > 0


def test_detector_end_to_end_output(models: Path) -> None:
    path = write_constant_model(models / "e2e.onnx", e2e_output([(60, 60, 100, 100, 0.8, 4)]), imgsz=160)
    (d,) = OnnxDetector(path).detect(np.zeros((160, 160, 3), np.uint8))
    assert d.class_name == "missing_hole" and d.box.x1 == 60


def test_detector_needs_class_names(models: Path) -> None:
    path = write_constant_model(models / "nonames.onnx", yolo_output([], 5), class_names=None)
    with pytest.raises(DetectorError, match="class names"):
        OnnxDetector(path)
    assert OnnxDetector(path, DetectorOptions(class_names=CLASS_NAMES)).nc == 5


def test_detector_refuses_a_garbage_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="cannot load"):
        OnnxDetector(bad)


def test_detector_takes_a_prepared_input_of_its_own_size_only(models: Path) -> None:
    path = write_constant_model(models / "p.onnx", yolo_output([(80, 80, 40, 40, 1, 0.9)], 5), imgsz=160)
    det = OnnxDetector(path, DetectorOptions(threads=1))
    frame = np.zeros((480, 640, 3), np.uint8)
    (plain,) = det.detect(frame)
    (same,) = det.detect(frame, det.prepare(frame))
    assert same == plain
    # Made for another input size (a model swapped in meanwhile): prepared again, same boxes.
    (other,) = det.detect(frame, prepare(frame, 320))
    assert other == plain
    # Of the right size, it is used as it is: a preparation of a square frame maps boxes without padding.
    (used,) = det.detect(frame, prepare(np.zeros((640, 640, 3), np.uint8), 160))
    assert (used.box.y1, used.box.y2) == (240, 400) != (plain.box.y1, plain.box.y2)
