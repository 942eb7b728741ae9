"""The confusion matrix: rows true, columns predicted, background last; matching as Ultralytics'."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation.confusion import BACKGROUND, box_iou, confusion_matrix

NAMES = ("scratch", "dent")
A = (10, 10, 50, 50)  # a true box
NEAR_A = (12, 12, 52, 52)  # IoU with A ~0.82
HALF_A = (30, 10, 70, 50)  # IoU with A 1/3: below 0.45
B = (100, 100, 140, 140)


def _t(*boxes: tuple[int, tuple[int, int, int, int]]) -> np.ndarray:
    return np.array([(c, *xyxy) for c, xyxy in boxes], float).reshape(-1, 5)


def _p(*boxes: tuple[int, float, tuple[int, int, int, int]]) -> np.ndarray:
    return np.array([(c, s, *xyxy) for c, s, xyxy in boxes], float).reshape(-1, 6)


@pytest.mark.parametrize(
    ("truth", "preds", "cells"),
    [
        (_t((0, A)), _p((0, 0.9, NEAR_A)), {(0, 0): 1}),  # hit
        (_t((0, A)), _p((1, 0.9, NEAR_A)), {(0, 1): 1}),  # right place, wrong class
        (_t((0, A)), _p(), {(0, 2): 1}),  # miss
        (_t(), _p((1, 0.9, B)), {(2, 1): 1}),  # false alarm on a defect-free image
        (_t((0, A)), _p((0, 0.1, NEAR_A)), {(0, 2): 1}),  # below conf 0.25: not a prediction
        (_t((0, A)), _p((0, 0.9, HALF_A)), {(0, 2): 1, (2, 0): 1}),  # IoU too low: miss + false alarm
        # two predictions on one box: the better overlap is paired, the other is a false alarm
        (_t((0, A)), _p((0, 0.5, NEAR_A), (1, 0.9, A)), {(0, 1): 1, (2, 0): 1}),
        # two boxes, each found
        (_t((0, A), (1, B)), _p((1, 0.8, B), (0, 0.7, NEAR_A)), {(0, 0): 1, (1, 1): 1}),
        (_t(), _p(), {}),
    ],
)
def test_one_image(truth: np.ndarray, preds: np.ndarray, cells: dict[tuple[int, int], int]) -> None:
    cm = confusion_matrix(NAMES, [(truth, preds)])
    expected = np.zeros((3, 3), int)
    for (i, j), v in cells.items():
        expected[i, j] = v
    assert np.array_equal(np.array(cm.counts), expected)
    assert cm.labels == (*NAMES, BACKGROUND) and (cm.conf, cm.iou) == (0.25, 0.45)


def test_images_add_up_and_thresholds_are_options() -> None:
    images = [(_t((0, A)), _p((0, 0.3, NEAR_A))), (_t((1, B)), _p((1, 0.3, B)))]
    assert confusion_matrix(NAMES, images).counts == ((1, 0, 0), (0, 1, 0), (0, 0, 0))
    strict = confusion_matrix(NAMES, images, conf=0.5)
    assert strict.counts == ((0, 0, 1), (0, 0, 1), (0, 0, 0)) and strict.conf == 0.5
    loose = confusion_matrix(NAMES, [(_t((0, A)), _p((0, 0.9, HALF_A)))], iou=0.3)
    assert loose.counts[0][0] == 1


def test_as_dict_is_rows_true_columns_predicted() -> None:
    doc = confusion_matrix(NAMES, [(_t((0, A)), _p((1, 0.9, A)))]).as_dict()
    assert doc == {
        "labels": ["scratch", "dent", "background"],
        "rows": "true",
        "columns": "predicted",
        "conf": 0.25,
        "iou": 0.45,
        "matrix": [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
    }


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [(A, A, 1.0), (A, B, 0.0), (A, HALF_A, 1 / 3), ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150)],
)
def test_box_iou(a: tuple[int, ...], b: tuple[int, ...], iou: float) -> None:
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)
