"""What starts a retrain: a request (CLI/API), N new reviewed labels; one retrain at a time per product."""

from training.triggers.lock import lock_path, retrain_lock

__all__ = ["lock_path", "retrain_lock"]
