"""Clients of other services (MLflow) and helpers shared by routes (cursors, time buckets)."""
