"""The plate line's numbers for :class:`~factoryloop.sim.demo.options.DemoReport` once the retrained model
serves: recall before/after on the first agent's stream, and the time from the first outcome of the new class
(on any plate agent) to the fixed model serving on each agent and on all of them."""

from __future__ import annotations

from factoryloop.sim.demo.options import DemoOptions, DemoReport
from factoryloop.sim.demo.plate import PlateAgent


def fill_report(report: DemoReport, plate: list[PlateAgent], opts: DemoOptions, new: str) -> None:
    observer = plate[0].observer
    with observer.lock:
        obs = observer.obs
        # The champion served under its registry version, or as the agent's bootstrap file ("local") when the
        # deployment carried the model it already had: "before" is whatever served most before the swap.
        before = [v for v in obs.by_version if v != new]
        old = max(before, key=lambda v: obs.by_version[v].scored) if before else None
    report.recall_before, report.support_before = observer.recall(old, opts.new_class) if old else (None, 0)
    report.recall_after, report.support_after = observer.recall(new, opts.new_class)
    with observer.lock:
        if old is not None:
            before_summary = obs.by_version[old].summary()
            report.other_recall_before = {k: v for k, v in before_summary.items() if k != opts.new_class}
        after_summary = obs.by_version[new].summary()
        report.other_recall_after = {k: v for k, v in after_summary.items() if k != opts.new_class}
        hb = obs.last_heartbeat
        if hb is not None:
            report.reject_latency_ms = (hb.reject_latency_p50_ms, hb.reject_latency_p99_ms)
    seen = [t for t in (a.first_seen(opts.new_class) for a in plate) if t is not None]
    if not seen:
        return
    first = min(seen)
    for a in plate:
        serving = a.serving_since(new)
        if serving is not None:
            report.serving_s[a.agent_id] = (serving - first).total_seconds()
    if len(report.serving_s) == len(plate):
        report.seen_to_serving_s = max(report.serving_s.values())
