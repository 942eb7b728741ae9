"""A registered version -> the deployment: which file of its artifact folder ships, with which sha256."""

from __future__ import annotations

import json

import pytest

from factoryloop.schemas import Deployment
from training.registry.models import RegisteredVersion
from training.rollout.publish import deployment_for

FP32, INT8 = "a" * 64, "b" * 64
BASE = {"onnx_sha256": FP32, "class_names": json.dumps(["scratch", "dent"]), "imgsz": "320"}


@pytest.mark.parametrize(
    ("tags", "file", "sha", "precision"),
    [
        ({}, "model.onnx", FP32, "fp32"),  # registered before the edge_* tags
        (
            {"edge_file": "model.onnx", "edge_sha256": FP32, "edge_precision": "fp32"},
            "model.onnx",
            FP32,
            "fp32",
        ),
        (
            {"edge_file": "model.int8.onnx", "edge_sha256": INT8, "edge_precision": "int8"},
            "model.int8.onnx",
            INT8,
            "int8",
        ),
    ],
)
def test_deployment_ships_the_edge_file(tags: dict[str, str], file: str, sha: str, precision: str) -> None:
    version = RegisteredVersion(
        "factoryloop-steel",
        "3",
        "r" * 32,
        "mlflow-artifacts:/1/run/artifacts/model/",
        {
            **BASE,
            **tags,
        },
    )
    dep = deployment_for(version, target="line-1")
    assert dep.artifact_uri == f"mlflow-artifacts:/1/run/artifacts/model/{file}"
    assert (dep.sha256, dep.precision) == (sha, precision)
    assert version.sha256 == FP32  # the fp32 export's hash stays what it was


def test_precision_is_fp32_or_int8() -> None:
    fields = {
        "deployment_id": "d" * 16,
        "target": "fleet",
        "model_name": "m",
        "model_version": "1",
        "artifact_uri": "file:///m.onnx",
        "sha256": FP32,
        "class_names": ("dent",),
        "imgsz": 96,
    }
    assert Deployment(**fields).precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        Deployment(**fields, precision="fp16")
