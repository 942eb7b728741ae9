"""ONNX object detection: letterbox pre-processing, onnxruntime session, YOLO output decoding."""
