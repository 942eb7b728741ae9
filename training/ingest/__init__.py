"""Kafka -> dataset store: frames once by hash, predictions as provenance, reviews taking precedence."""

from training.ingest.apply import Applier, IngestStats, frame_source
from training.ingest.consumer import DEFAULT_GROUP, Ingestor, state_path_for
from training.ingest.state import IngestState

__all__ = [
    "DEFAULT_GROUP",
    "Applier",
    "IngestState",
    "IngestStats",
    "Ingestor",
    "frame_source",
    "state_path_for",
]
