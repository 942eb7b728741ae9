"""Dead letters: a record a consumer could not process, with the reason, so nothing is silently lost."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from factoryloop.schemas.base import Event


class DeadLetter(Event):
    kind: Literal["dead_letter"] = "dead_letter"
    schema_version: Literal[1] = 1
    source_topic: str
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    consumer_group: str | None = None
    key_b64: str | None = None
    value_b64: str = Field(description="The original value, base64, so it can be inspected and replayed.")
    reason: str = Field(max_length=4000)

    @classmethod
    def b64(cls, data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data).decode("ascii")

    def original_value(self) -> bytes:
        return base64.b64decode(self.value_b64)
