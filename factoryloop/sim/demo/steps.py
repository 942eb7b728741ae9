"""The demo's error, and how it waits for a step: polling, checking its parts, until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from training.errors import TrainingError


class DemoError(TrainingError):
    """The demo could not complete a step; the message says which and why."""


def wait_for(what: str, done: Callable[[], bool], deadline: float, check: Callable[[], None]) -> None:
    """Until ``done()``; ``check()`` raises when a part of the demo failed; DemoError past ``deadline``."""
    while not done():
        check()
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        time.sleep(0.5)
