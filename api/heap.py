"""Python's cyclic garbage collector and request latency.

A full (generation 2) collection walks every tracked object of the process: the modules, FastAPI's routes,
pydantic's and SQLAlchemy's schema objects built at startup. Measured on the 10M-row database
(docs/benchmarks.md, "Defect queries"), those pauses were the p99 of every query route: 90-170 ms tails
over p50s of 9-30 ms, gone with the collector off. :func:`freeze_startup_heap` moves everything alive after
startup into the collector's permanent generation (``gc.freeze``, as CPython's docs advise for servers), so
later collections walk only what requests create.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect what startup left behind, then exempt the survivors from later collections; returns how many
    objects were frozen. Call once, when the app is built and before it serves."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("froze %s startup objects out of the garbage collector's scans", frozen)
    return frozen
