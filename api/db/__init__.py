"""Database: SQLAlchemy 2 models, engine/session setup, migrations and the idempotent upserts the sink
uses."""

from api.db.engine import Database, make_engine
from api.db.models import (
    AgentEventRow,
    AgentRow,
    Base,
    ClassDayRow,
    DeploymentRow,
    DetectionRow,
    FrameRow,
    HeartbeatRow,
    InspectionRow,
    RetrainJobRow,
    ReviewQueueRow,
    ReviewRow,
    TokenRow,
)

__all__ = [
    "AgentEventRow",
    "AgentRow",
    "Base",
    "ClassDayRow",
    "Database",
    "DeploymentRow",
    "DetectionRow",
    "FrameRow",
    "HeartbeatRow",
    "InspectionRow",
    "RetrainJobRow",
    "ReviewQueueRow",
    "ReviewRow",
    "TokenRow",
    "make_engine",
]
