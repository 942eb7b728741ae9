"""Deployment signatures (factoryloop.signing): sign/verify table, the canonical message, wire round trip."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from factoryloop.schemas import Deployment, Strategy, decode
from factoryloop.signing import (
    SIGNED_FIELDS,
    SIGNED_WHEN_SET,
    SignatureError,
    sign,
    signature,
    signing_message,
    verify,
)
from factoryloop.topics import TopicRole
from tests.support.events import deployment

KEY = "fleet-key-\u00e9"  # UTF-8 encoded for the HMAC
DEP = deployment()
SIGNED = sign(DEP, SecretStr(KEY))

# Every field the agent acts on, each altered after signing: the signature no longer matches.
TAMPERED = {
    "deployment_id": "e" * 32,
    "target": "line-2",
    "model_name": "other",
    "model_version": "5",
    "artifact_uri": "http://evil.example/model.onnx",
    "sha256": "d" * 64,
    "class_names": ("dent", "scratch"),
    "imgsz": 640,
    "strategy": Strategy.ROLLBACK,
    "canary_agents": ("agent-9",),
    "shadow_sample_rate": 0.5,
}


DEP_PRODUCT = deployment(product="steel_plate")
SIGNED_PRODUCT = sign(DEP_PRODUCT, KEY)


def test_every_signed_field_is_tampered_below() -> None:
    assert set(TAMPERED) == SIGNED_FIELDS
    assert {"product", "ends_shadow"} == SIGNED_WHEN_SET  # each tampered in test_*_is_signed_when_set


ENDING = sign(deployment(strategy=Strategy.CANARY, canary_agents=("agent-1",), ends_shadow=True), KEY)


@pytest.mark.parametrize(
    ("dep", "error"),
    [
        (ENDING, None),
        (ENDING.model_copy(update={"ends_shadow": False}), "HMAC signature mismatch"),  # removed
        (SIGNED.model_copy(update={"ends_shadow": True}), "HMAC signature mismatch"),  # added
    ],
)
def test_ends_shadow_is_signed_when_set(dep: Deployment, error: str | None) -> None:
    assert b'"ends_shadow"' not in signing_message(DEP)  # False: signed as before the field existed
    if error is None:
        verify(dep, KEY, required=True)
    else:
        with pytest.raises(SignatureError, match=error):
            verify(dep, KEY, required=True)


@pytest.mark.parametrize(
    ("dep", "error"),
    [
        (SIGNED_PRODUCT, None),
        (SIGNED_PRODUCT.model_copy(update={"reason": "edited"}), None),
        (SIGNED_PRODUCT.model_copy(update={"product": "pcb"}), "HMAC signature mismatch"),  # altered
        (SIGNED_PRODUCT.model_copy(update={"product": None}), "HMAC signature mismatch"),  # removed
        (SIGNED.model_copy(update={"product": "steel_plate"}), "HMAC signature mismatch"),  # added
        (SIGNED, None),  # no product: signed as before products existed
    ],
)
def test_product_is_signed_when_set(dep: Deployment, error: str | None) -> None:
    if error is None:
        verify(dep, KEY, required=True)
    else:
        with pytest.raises(SignatureError, match=error):
            verify(dep, KEY, required=True)


def test_product_in_the_message_only_when_set() -> None:
    assert b'"product"' not in signing_message(DEP)
    assert signing_message(DEP_PRODUCT) == signing_message(DEP).replace(
        b',"sha256"', b',"product":"steel_plate","sha256"'
    )
    assert SIGNED_PRODUCT.signature != sign(DEP, KEY).signature
    received = decode(TopicRole.DEPLOYMENTS, SIGNED_PRODUCT.model_dump_json().encode())
    assert isinstance(received, Deployment) and received.product == "steel_plate"
    verify(received, KEY, required=True)


@pytest.mark.parametrize(
    ("dep", "key", "required", "error"),
    [
        (SIGNED, KEY, False, None),
        (SIGNED, SecretStr(KEY), True, None),
        (SIGNED.model_copy(update={"signature": SIGNED.signature.upper()}), KEY, True, None),  # type: ignore[union-attr]
        (SIGNED.model_copy(update={"signature": f" {SIGNED.signature}\n"}), KEY, True, None),
        (SIGNED.model_copy(update={"reason": "edited", "created_by": "x"}), KEY, True, None),  # not covered
        (DEP, None, False, None),  # unsigned, not required
        (DEP, KEY, False, None),
        (DEP, KEY, True, "unsigned deployment refused"),
        (DEP, None, True, "unsigned deployment refused"),
        (SIGNED, None, False, "no signing key is configured"),
        (SIGNED, "another-fleet", False, "HMAC signature mismatch"),
        (sign(DEP, "another-fleet"), KEY, True, "HMAC signature mismatch"),
        (SIGNED.model_copy(update={"signature": "\u00e9" * 64}), KEY, False, "HMAC signature mismatch"),
        (SIGNED.model_copy(update={"signature": ""}), KEY, False, "HMAC signature mismatch"),
        *[
            (SIGNED.model_copy(update={name: value}), KEY, False, "HMAC signature mismatch")
            for name, value in TAMPERED.items()
        ],
    ],
)
def test_verify(dep: Deployment, key: Any, required: bool, error: str | None) -> None:
    if error is None:
        verify(dep, key, required=required)
    else:
        with pytest.raises(SignatureError, match=error):
            verify(dep, key, required=required)


def test_sign_without_key_leaves_it_unsigned_and_resigning_replaces() -> None:
    assert sign(DEP, None) is DEP
    resigned = sign(SIGNED.model_copy(update={"deployment_id": "f" * 32}), KEY)
    verify(resigned, KEY, required=True)
    assert resigned.signature != SIGNED.signature


def test_signature_survives_the_wire() -> None:
    received = decode(TopicRole.DEPLOYMENTS, SIGNED.model_dump_json().encode())
    assert isinstance(received, Deployment) and received.signature == SIGNED.signature
    verify(received, KEY, required=True)


def test_canonical_message() -> None:
    message = signing_message(DEP)
    assert message == (
        b'factoryloop-deployment-v1\n{"artifact_uri":"file:///tmp/model.onnx","canary_agents":[],'
        b'"class_names":["scratch","dent"],"deployment_id":"' + b"d" * 32 + b'","imgsz":320,'
        b'"model_name":"widget","model_version":"4","sha256":"' + b"c" * 64 + b'",'
        b'"shadow_sample_rate":0.0,"strategy":"full","target":"line-1"}'
    )
    assert signing_message(SIGNED) == message  # the signature itself is not signed


def test_signature_matches_openssl(tmp_path: Path) -> None:
    path = tmp_path / "message"
    path.write_bytes(signing_message(DEP))
    try:
        cmd = ["openssl", "dgst", "-sha256", "-hmac", KEY, str(path)]
        out = subprocess.run(cmd, capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no openssl binary")
    assert out.strip().rsplit(" ", 1)[-1] == signature(DEP, KEY) == SIGNED.signature
