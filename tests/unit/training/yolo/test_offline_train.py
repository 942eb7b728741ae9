"""Train, export and check ONNX parity with the network blocked: any attempt to leave the machine fails."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.models import tiny_model_frames, write_sim_dataset
from training.yolo import OnnxDetector, export_onnx, train_yolo, verify_onnx_parity


def _local(host: object) -> bool:
    if host is None or host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            attempts.append(f"connect {address}")
            raise OSError(f"network blocked by test: {address}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _local(host):
            attempts.append(f"resolve {host}")
            raise socket.gaierror(f"name resolution blocked by test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def test_train_export_parity_offline(tmp_path: Path, no_network: list[str]) -> None:
    data = write_sim_dataset(tmp_path / "data", range(8), range(100, 104))
    result = train_yolo(data, tmp_path / "runs", epochs=1, imgsz=96, batch=4, device="cpu", cache=False)
    assert result.best_pt.is_file()
    assert set(result.metrics) == {"precision", "recall", "mAP50", "mAP50-95"}
    assert len(result.epochs) == 1 and "train_box_loss" in result.epochs[0]
    assert result.class_names == ("scratch", "dent", "stain", "crack", "missing_hole")

    exported = export_onnx(result.best_pt, 96, tmp_path / "m.onnx")
    assert len(exported.sha256) == 64 and exported.imgsz == 96
    detector = OnnxDetector(exported.path, 96)
    assert detector.session.get_inputs()[0].shape == [1, 3, 96, 96]
    assert detector.session.get_outputs()[0].shape == [1, 4 + 5, 189]  # (96/8)^2 + (96/16)^2 + (96/32)^2
    frames = [f.image for f in tiny_model_frames(3)]
    report = verify_onnx_parity(result.best_pt, exported.path, frames, 96, conf=0.001)
    assert report.max_raw_diff < 1e-2 and report.pt_detections == report.onnx_detections
    assert no_network == [], f"something tried to reach the network: {no_network}"


def _batchnorm_state(pt: Path) -> dict[str, Any]:
    import torch

    ckpt = torch.load(pt, map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt["model"]
    return {
        k: v.float().clone()
        for k, v in model.state_dict().items()
        if k.endswith(("running_mean", "running_var"))
    }


@pytest.mark.parametrize("freeze", [True, False])
def test_fine_tune_can_keep_the_batchnorm_statistics(tmp_path: Path, freeze: bool) -> None:
    """``freeze_batchnorm`` keeps the starting model's running statistics (the layers' scale and shift still
    learn); without it a fine-tune updates them."""
    data = write_sim_dataset(tmp_path / "data", range(8), range(100, 104))
    start = train_yolo(
        data, tmp_path / "start", epochs=1, imgsz=96, batch=4, device="cpu", cache=False
    ).best_pt
    tuned = train_yolo(
        data,
        tmp_path / "tuned",
        model=start,
        epochs=1,
        imgsz=96,
        batch=4,
        device="cpu",
        cache=False,
        freeze_batchnorm=freeze,
        lr0=0.01,
    ).best_pt
    before, after = _batchnorm_state(start), _batchnorm_state(tuned)
    assert before.keys() == after.keys() and before
    same = all(bool((before[k] - after[k]).abs().max() <= 1e-3) for k in before)
    assert same is freeze
