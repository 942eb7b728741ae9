"""The suite's xdist scheduler on fake workers: the longest files start first, one per worker, and behind
one of them only the smallest file waits (xdist's own ``loadfile`` queues the next file in line behind the
one-test closed loop for its whole half hour; a worker needs one test queued behind the one it runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from tests.support.xdist_schedule import LONGEST_FIRST, LongestFirstScheduling

LOOP = f"{LONGEST_FIRST[0]}test_closed_loop.py"
SITE = f"{LONGEST_FIRST[1]}test_site_faults.py"


@dataclass(eq=False)
class FakeWorker:
    name: str
    shutting_down: bool = False
    sent: list[list[int]] = field(default_factory=list)

    @property
    def gateway(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.name)

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


class FakeConfig:
    def getvalue(self, name: str) -> Any:
        return ["2*popen"] if name == "tx" else None


def _files(worker: FakeWorker, collection: list[str]) -> list[str]:
    """The files sent to ``worker``, in order."""
    return [collection[batch[0]].split("::")[0] for batch in worker.sent]


def test_nothing_waits_behind_the_longest_files() -> None:
    collection = [
        f"{LOOP}::test_loop",
        f"{SITE}::test_site",
        *(f"tests/unit/test_a.py::test_{i}" for i in range(5)),
        *(f"tests/unit/test_b.py::test_{i}" for i in range(3)),
        "tests/unit/test_c.py::test_0",
        "tests/unit/test_d.py::test_0",
    ]
    sched = LongestFirstScheduling(FakeConfig())  # type: ignore[arg-type]
    gw0, gw1 = FakeWorker("gw0"), FakeWorker("gw1")
    for worker in (gw0, gw1):
        sched.add_node(worker)  # type: ignore[arg-type]
        sched.add_node_collection(worker, collection)  # type: ignore[arg-type]

    sched.schedule()

    # one of the longest files on each, and behind it the smallest file (one test each here)
    assert _files(gw0, collection) == [LOOP, "tests/unit/test_d.py"]
    assert _files(gw1, collection) == [SITE, "tests/unit/test_c.py"]
    sched.mark_test_complete(gw1, collection.index(f"{SITE}::test_site"))  # done first: then as loadfile
    assert _files(gw1, collection)[2:] == ["tests/unit/test_a.py"]  # the most tests next
    sched.mark_test_complete(gw1, collection.index("tests/unit/test_c.py::test_0"))
    for i in range(3):  # two tests or fewer left on gw1: the next file in line
        sched.mark_test_complete(gw1, collection.index(f"tests/unit/test_a.py::test_{i}"))
    assert _files(gw1, collection)[3:] == ["tests/unit/test_b.py"]
    assert _files(gw0, collection) == [LOOP, "tests/unit/test_d.py"]  # nothing more behind the loop
    sched.mark_test_complete(gw0, collection.index(f"{LOOP}::test_loop"))
    sched.mark_test_complete(gw0, collection.index("tests/unit/test_d.py::test_0"))
    assert not sched.workqueue
