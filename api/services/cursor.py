"""Opaque pagination cursors over ``(ts, id)``: URL-safe base64 of a small JSON array."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from api.errors import InvalidRequestError

MAX_ROW_ID = 2**63 - 1


def encode_cursor(ts: datetime, row_id: int) -> str:
    raw = json.dumps([ts.astimezone(UTC).isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts_text, row_id = json.loads(raw)
        ts = datetime.fromisoformat(ts_text)
        if ts.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError("bad cursor fields")
        if not 0 <= row_id <= MAX_ROW_ID:  # beyond a 64-bit id PostgreSQL fails the query: a 400, not a 500
            raise ValueError("cursor id out of range")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(
            "invalid cursor: pass back the next_cursor of a previous page unchanged"
        ) from exc
    return ts, row_id
