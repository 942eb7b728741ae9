"""Test scheduling over several pytest-xdist workers: whole files per worker, the longest files first.

``./dev test`` runs ``pytest -n 2 --dist loadfile``. xdist's own ``loadfile`` sends the files with the most
tests first, so the closed-loop test (one test, ~15 min) would start last and run alone at the end. This
scheduler starts the files of :data:`LONGEST_FIRST` before the rest (in that order) and otherwise is
``loadfile``: a file's module-scoped fixtures (a site on network namespaces, an OPC UA server) start once, and
a file that needs a host-wide resource (the fake GigE camera's UDP port 3956) never runs twice at once.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadFileScheduling

#: Path prefixes of the files that take longest (./dev test prints the slowest tests), longest first.
LONGEST_FIRST = (
    "tests/integration/loop/",  # ~1,350 s at CI load (session 9's clean-clone run)
    "tests/integration/site/",  # ~600 s
    "tests/integration/training/test_rollout_outages.py",  # ~220 s
    "tests/integration/training/test_rollout_shadow.py",  # ~185 s
    "tests/integration/edge_agent/test_agent_kafka.py",  # ~150 s
    "tests/integration/api/test_kafka_down.py",  # ~100 s
    "tests/integration/stack/test_security.py",
    "tests/integration/deploy/test_wheelhouse_offline.py",
    "tests/integration/training/test_rollout_restart.py",
    "tests/integration/training/test_trainer_restart.py",
    "tests/integration/training/test_rollout_controller.py",
)


def _rank(scope: str) -> int:
    for i, prefix in enumerate(LONGEST_FIRST):
        if scope.startswith(prefix):
            return i
    return len(LONGEST_FIRST)


class LongestFirstScheduling(LoadFileScheduling):
    """``loadfile`` with :data:`LONGEST_FIRST` moved to the front of the work queue, and only the smallest
    file queued on a worker behind one of those.

    A worker runs a test once it knows the next one (pytest's teardown needs it), so xdist gives a worker
    its next file while it still has two tests or fewer to run. Behind the one-test closed loop that was the
    next file in line: a 4-min file waited there for the loop's half hour (session 10, three workers) while
    another worker could have run it. Behind a long file, the file with the fewest tests waits instead."""

    _ordered = False

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down or not self.workqueue or not self._runs_long_file(node):
            super()._reschedule(node)
        elif self._pending_of(self.assigned_work[node]) <= 2:
            self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)  # the smallest, first
            self._assign_work_unit(node)

    def _runs_long_file(self, node: Any) -> bool:
        return any(
            _rank(scope) < len(LONGEST_FIRST) and not all(done.values())
            for scope, done in self.assigned_work[node].items()
        )

    def _assign_work_unit(self, node: Any) -> None:
        if not self._ordered:  # the queue is complete (sorted by test count) before the first assignment
            first = sorted((s for s in self.workqueue if _rank(s) < len(LONGEST_FIRST)), key=_rank)
            for scope in reversed(first):
                self.workqueue.move_to_end(scope, last=False)
            self._ordered = True
        super()._assign_work_unit(node)
