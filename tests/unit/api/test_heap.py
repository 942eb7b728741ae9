from __future__ import annotations

import gc

from api.heap import freeze_startup_heap


def test_startup_objects_leave_the_collectors_scans() -> None:
    before = len(gc.get_objects())
    try:
        frozen = freeze_startup_heap()
        # Frozen objects that die later leave the permanent generation: the count can only shrink.
        assert 0 < gc.get_freeze_count() <= frozen
        # Frozen objects are not scanned: generation 2 no longer lists them.
        assert len(gc.get_objects(generation=2)) < before - frozen // 2
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
