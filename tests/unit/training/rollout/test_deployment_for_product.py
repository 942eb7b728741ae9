"""A registered version's ``product`` tag -> ``Deployment.product`` (None for a version registered before)."""

from __future__ import annotations

import json

import pytest

from factoryloop.signing import sign, signing_message
from training.registry.models import RegisteredVersion
from training.rollout.publish import deployment_for

BASE = {"onnx_sha256": "a" * 64, "class_names": json.dumps(["scratch", "dent"]), "imgsz": "320"}


@pytest.mark.parametrize(
    ("tags", "product"),
    [({"product": "steel_plate"}, "steel_plate"), ({}, None), ({"product": ""}, None)],
)
def test_deployment_carries_the_versions_product(tags: dict[str, str], product: str | None) -> None:
    version = RegisteredVersion(
        "factoryloop-steel_plate", "3", "r" * 32, "file:///models/3", {**BASE, **tags}
    )
    dep = deployment_for(version, target="line-1")
    assert dep.product == product
    assert (b'"product"' in signing_message(dep)) is (product is not None)
    assert sign(dep, "k").signature is not None
