"""The sink: a consumer group over outcomes, frames, heartbeats, deployments and labels that writes them into
the API database, idempotently (on ``event_id``) and in batches, committing offsets after the transaction."""

from api.sink.rows import RowBatch, to_rows
from api.sink.runner import Sink, SinkStats
from api.sink.writer import SinkWriter, WriteResult

__all__ = ["RowBatch", "Sink", "SinkStats", "SinkWriter", "WriteResult", "to_rows"]
