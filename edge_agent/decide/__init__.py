"""Decision rules: detections -> PASS / FAIL / UNCERTAIN."""
