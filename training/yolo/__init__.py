"""YOLO training, ONNX export and the reference ONNX inference contract, all fully offline.

Import :mod:`training.yolo.offline` (done by every module here) before anything imports ``ultralytics``.
"""

from training.yolo.export import ExportedModel, ParityReport, export_onnx, sha256_file, verify_onnx_parity
from training.yolo.offline import ensure_offline, yolo_class
from training.yolo.onnx_ref import Letterbox, OnnxDetector, RefDetection, decode, letterbox
from training.yolo.train import SCRATCH_MODEL, ClassMetrics, TrainResult, resolve_device, train_yolo

__all__ = [
    "SCRATCH_MODEL",
    "ClassMetrics",
    "ExportedModel",
    "Letterbox",
    "OnnxDetector",
    "ParityReport",
    "RefDetection",
    "TrainResult",
    "decode",
    "ensure_offline",
    "export_onnx",
    "letterbox",
    "resolve_device",
    "sha256_file",
    "train_yolo",
    "verify_onnx_parity",
    "yolo_class",
]
