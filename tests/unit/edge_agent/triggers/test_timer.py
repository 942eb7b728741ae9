from __future__ import annotations

import pytest

from edge_agent.config.triggers import TimerTrigger
from edge_agent.errors import UnknownTriggerType
from edge_agent.triggers import build_trigger


def test_timer_numbers_parts_in_order_on_a_grid() -> None:
    trigger = build_trigger(TimerTrigger(type="timer", period_s=0.01, part_prefix="p"))
    trigger.open()
    events = [trigger.wait(timeout_s=1.0) for _ in range(5)]
    trigger.close()
    assert [e.part_id for e in events if e] == ["p1", "p2", "p3", "p4", "p5"]
    monos = [e.at_mono for e in events if e]
    assert monos == sorted(monos)


def test_timer_returns_none_when_the_next_part_is_beyond_the_timeout() -> None:
    trigger = build_trigger(TimerTrigger(type="timer", period_s=60.0))
    trigger.open()
    assert trigger.wait(1.0) is not None  # the first part comes at once
    assert trigger.wait(timeout_s=0.01) is None


def test_unknown_trigger_type_names_the_known_ones() -> None:
    class Cfg:
        type = "laser"

    with pytest.raises(UnknownTriggerType, match="known: timer"):
        build_trigger(Cfg())
