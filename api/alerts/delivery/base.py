"""What a notification channel gets (:class:`Notice`: one alert fired or resolved), its config fields and
its interface: ``send`` makes one attempt and raises :class:`DeliveryFailed`; the dispatcher retries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from api.alerts.rules.base import Cfg, Ident, Severity
from api.errors import ApiError

NoticeEvent = Literal["fired", "resolved"]


class DeliveryFailed(ApiError):
    """One attempt to deliver a notice failed; the message says why (the dispatcher records it)."""


@dataclass(frozen=True, slots=True)
class Notice:
    alert_id: int
    event: NoticeEvent
    rule: str
    rule_type: str
    severity: Severity
    subject: str
    message: str
    evidence: dict[str, Any]
    fired_at: datetime
    resolved_at: datetime | None
    line_id: str | None
    station_id: str | None
    agent_id: str | None
    product: str | None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity"] = self.severity.value
        out["fired_at"] = self.fired_at.isoformat()
        out["resolved_at"] = self.resolved_at.isoformat() if self.resolved_at else None
        return out

    @property
    def title(self) -> str:
        state = "RESOLVED" if self.event == "resolved" else self.severity.value.upper()
        return f"[{state}] {self.rule}: {self.subject}"


class ChannelConfigBase(Cfg):
    name: Ident = Field(description="Unique among the channels; deliveries are recorded under it.")
    min_severity: Severity = Field(default=Severity.INFO, description="Only alerts at least this severe.")
    rules: tuple[Ident, ...] | None = Field(default=None, description="Only these rules (default: all).")
    events: tuple[NoticeEvent, ...] = Field(default=("fired", "resolved"), min_length=1)
    retries: int = Field(default=3, ge=0, le=20, description="Attempts after the first failed one.")
    backoff_s: float = Field(
        default=1.0, ge=0, le=300, description="Wait before retry n: backoff_s x 2^(n-1)."
    )

    def wants(self, notice: Notice) -> bool:
        return (
            notice.severity.rank >= self.min_severity.rank
            and (self.rules is None or notice.rule in self.rules)
            and notice.event in self.events
        )


class Channel(ABC):
    config: ChannelConfigBase

    @abstractmethod
    def send(self, notice: Notice) -> None:
        """Deliver once; raise :class:`DeliveryFailed` saying why it did not arrive."""
