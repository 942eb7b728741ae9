"""Disk buffer: eviction order under the byte budget, and durability across kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.errors import BufferStoreError
from edge_agent.publish.buffer import (
    PRIO_EVENT,
    PRIO_FAIL_FRAME,
    PRIO_FRAME,
    PRIO_OUTCOME,
    PRIO_PASS_FRAME,
    DiskBuffer,
    OutRecord,
)


def rec(tag: str, priority: int, size: int = 100) -> OutRecord:
    return OutRecord("t", tag.encode(), b"x" * (size - len(tag)), (("fl-kind", b"k"),), priority)


def tags(buf: DiskBuffer) -> list[str]:
    return [(b.record.key or b"").decode() for b in buf.peek(1000)]


def test_peek_in_order_and_ack(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path, 10_000)
    for i in range(5):
        assert buf.put(rec(f"r{i}", PRIO_OUTCOME))
    items = buf.peek(3)
    assert [b.record.key for b in items] == [b"r0", b"r1", b"r2"]
    assert items[0].record.headers == (("fl-kind", b"k"),)
    buf.ack([items[0].seq, items[2].seq])
    assert tags(buf) == ["r1", "r3", "r4"]
    assert (buf.count, buf.bytes) == (3, 300)


def test_eviction_order_pass_frames_first_outcomes_last(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path, 600)
    for tag, prio in [
        ("out1", PRIO_OUTCOME),
        ("pass1", PRIO_PASS_FRAME),
        ("unc1", PRIO_FRAME),
        ("fail1", PRIO_FAIL_FRAME),
        ("pass2", PRIO_PASS_FRAME),
        ("ev1", PRIO_EVENT),
    ]:
        assert buf.put(rec(tag, prio))
    assert buf.put(rec("out2", PRIO_OUTCOME))  # full: the oldest PASS frame goes
    assert buf.put(rec("out3", PRIO_OUTCOME))  # then the next PASS frame
    assert buf.put(rec("out4", PRIO_OUTCOME))  # then the uncertain frame
    assert buf.put(rec("out5", PRIO_OUTCOME))  # then the agent event
    assert tags(buf) == ["out1", "fail1", "out2", "out3", "out4", "out5"]
    assert buf.evicted == 4
    # Nothing cheaper left: a PASS frame cannot evict outcomes, so it is the one dropped (and counted).
    assert not buf.put(rec("pass3", PRIO_PASS_FRAME))
    assert buf.evicted == 5
    # An outcome evicts the oldest record of equal priority as a last resort.
    assert buf.put(rec("out6", PRIO_OUTCOME))
    assert tags(buf)[0] == "fail1" and buf.bytes <= 600


def test_oversized_record_is_refused_and_counted(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path, 1024)
    assert not buf.put(rec("big", PRIO_OUTCOME, size=5000))
    assert buf.evicted == 1 and buf.count == 0


def test_reopen_keeps_records_and_totals(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path, 10_000)
    for i in range(3):
        buf.put(rec(f"r{i}", PRIO_OUTCOME))
    buf.close()
    again = DiskBuffer(tmp_path, 10_000)
    assert tags(again) == ["r0", "r1", "r2"] and again.bytes == 300


def test_closed_buffer_raises(tmp_path: Path) -> None:
    buf = DiskBuffer(tmp_path, 10_000)
    buf.close()
    with pytest.raises(BufferStoreError):
        buf.put(rec("late", PRIO_OUTCOME))


WRITER = """
import sys
from pathlib import Path
from edge_agent.publish.buffer import DiskBuffer, OutRecord
buf = DiskBuffer(Path(sys.argv[1]), 1 << 30)
i = 0
while True:
    buf.put(OutRecord("t", str(i).encode(), bytes(2000), (), 3))
    print(i, flush=True)  # printed only once the put has returned (committed, fsynced)
    i += 1
"""


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.stdout is not None
    last = -1
    for line in proc.stdout:
        last = int(line)
        if last >= 150:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    buf = DiskBuffer(tmp_path, 1 << 30)
    keys = [int(b.record.key or b"-1") for b in buf.peek(100_000)]
    assert keys[: last + 1] == list(range(last + 1))  # every acknowledged put survived, in order
    assert buf.count == len(keys) >= last + 1
