"""BatchNorm statistics recomputed for the final weights (training.yolo.precise_bn): a plain average over the
batches in train mode, weights and settings untouched; in a real (tiny) training, best.pt gets them before its
final validation and the weights as trained stay beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.support.models import write_sim_dataset
from training.yolo import train_yolo
from training.yolo.precise_bn import TRAINED_STATS_NAME, recompute_batchnorm
from training.yolo.recipes import TINY_YAML


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.03), nn.ReLU())
    bn = net[1]
    bn.running_mean.fill_(50.0)  # statistics that fit nothing: what a collapsed fine-tune has
    bn.running_var.fill_(1e-4)
    return net


def test_statistics_become_the_average_over_the_batches() -> None:
    net = _net().eval()
    weights = {
        k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k
    }
    batches = [torch.randn(8, 3, 16, 16) * s + s for s in (1.0, 2.0, 3.0)]
    seen = recompute_batchnorm(net, batches)
    assert seen == 24
    with torch.no_grad():
        out = net[0](torch.cat(batches))  # the conv is before the BN: its output is what the BN saw
    bn = net[1]
    per_batch = [net[0](b).mean(dim=(0, 2, 3)) for b in batches]
    assert torch.allclose(bn.running_mean, torch.stack(per_batch).mean(0), atol=1e-4)
    assert torch.allclose(bn.running_mean, out.mean(dim=(0, 2, 3)), atol=1e-4)  # equal batches: the mean
    assert bn.momentum == 0.03 and not net.training  # settings and mode as they were
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in weights.items())  # no weight changed


def test_no_batches_or_no_batchnorm() -> None:
    net = _net()
    assert recompute_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3)), [torch.zeros(1, 3, 8, 8)]) == 0
    assert recompute_batchnorm(net, []) == 0
    assert net[1].momentum == 0.03


@pytest.mark.parametrize("images", [0, 12])
def test_a_training_asked_for_precise_bn(tmp_path: Path, images: int) -> None:
    data = write_sim_dataset(tmp_path / "data", range(8), range(100, 104))
    result = train_yolo(
        data,
        tmp_path / "runs",
        model=str(TINY_YAML),
        epochs=1,
        imgsz=96,
        batch=4,
        device="cpu",
        cache=False,
        val=False,
        precise_bn=images,
    )
    trained = result.best_pt.with_name(TRAINED_STATS_NAME)
    assert trained.is_file() == bool(images)
    if not images:
        return

    def state(path: Path) -> dict[str, torch.Tensor]:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        return (ckpt.get("ema") or ckpt["model"]).float().state_dict()

    new, old = state(result.best_pt), state(trained)
    stats = [k for k in new if k.endswith("running_mean")]
    assert stats and any(not torch.equal(new[k], old[k]) for k in stats)
    assert all(torch.equal(new[k], old[k]) for k in new if k.endswith(".weight") or k.endswith(".bias"))
    assert set(result.metrics) == {"precision", "recall", "mAP50", "mAP50-95"}  # the run still reports them
