"""Deployment signatures: HMAC-SHA256 of a deployment's identity with the fleet key.

One function signs (training's ``publish``, the API's promote/rollback) and one verifies (the edge agent).
The signed message is a canonical JSON of :data:`SIGNED_FIELDS` under a scheme tag, not the artifact bytes:
the signer needs no download, and the signature binds what the agent acts on (which artifact, its sha256,
class names, input size, target, strategy); the agent checks the fetched bytes against the signed sha256.
:data:`SIGNED_WHEN_SET` fields (``product``, ``ends_shadow``) are in the message only when set (not None, not
False), so that a deployment without them signs exactly as before they existed (earlier signatures and test
vectors stay valid) while one with them cannot have them altered, added or removed. Informational fields
(``reason``, ``created_by``, ``previous_version``, ``precision``) and the envelope (``event_id``, ``ts``) are
not covered.

Message: ``factoryloop-deployment-v1\\n`` + ``json.dumps(fields, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` as UTF-8, fields as in ``Deployment.model_dump(mode="json")`` (those of
:data:`SIGNED_WHEN_SET` only when not None); key as UTF-8; signature: lowercase hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import SecretStr

from factoryloop.errors import FactoryloopError
from factoryloop.schemas import Deployment

SCHEME = "factoryloop-deployment-v1"
SIGNED_FIELDS = frozenset(
    {
        "deployment_id",
        "target",
        "model_name",
        "model_version",
        "artifact_uri",
        "sha256",
        "class_names",
        "imgsz",
        "strategy",
        "canary_agents",
        "shadow_sample_rate",
    }
)
# Signed when set (fields added after v1 signatures existed): absent from the message when None (or False).
SIGNED_WHEN_SET = frozenset({"product", "ends_shadow"})


class SignatureError(FactoryloopError):
    """A deployment's signature is missing (while required), wrong, or cannot be checked (no key)."""


def _key_bytes(key: SecretStr | str) -> bytes:
    return (key.get_secret_value() if isinstance(key, SecretStr) else key).encode()


def signing_message(dep: Deployment) -> bytes:
    """The exact bytes the HMAC covers (see the module docstring)."""
    dumped = dep.model_dump(mode="json", include=set(SIGNED_FIELDS | SIGNED_WHEN_SET))
    fields = {k: v for k, v in dumped.items() if k in SIGNED_FIELDS or (v is not None and v is not False)}
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{SCHEME}\n{body}".encode()


def signature(dep: Deployment, key: SecretStr | str) -> str:
    """Lowercase hex HMAC-SHA256 of :func:`signing_message` with ``key`` (UTF-8)."""
    return hmac.new(_key_bytes(key), signing_message(dep), hashlib.sha256).hexdigest()


def sign(dep: Deployment, key: SecretStr | str | None) -> Deployment:
    """``dep`` with its signature set (replacing any); unchanged when there is no key."""
    if key is None:
        return dep
    return dep.model_copy(update={"signature": signature(dep, key)})


def verify(dep: Deployment, key: SecretStr | str | None, *, required: bool) -> None:
    """Raise :class:`SignatureError` unless ``dep`` is acceptable.

    Unsigned: accepted unless ``required``. Signed: needs ``key`` and a matching signature (case and
    surrounding whitespace ignored).
    """
    if dep.signature is None:
        if required:
            raise SignatureError("unsigned deployment refused (signatures are required)")
        return
    if key is None:
        raise SignatureError("deployment is signed but no signing key is configured")
    expected = signature(dep, key).encode()
    # bytes: compare_digest raises TypeError on a str with non-ASCII characters (the field is free text)
    if not hmac.compare_digest(expected, dep.signature.strip().lower().encode()):
        raise SignatureError("HMAC signature mismatch: not signed with this fleet's key, or altered since")
