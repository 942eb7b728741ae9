"""Which inspected frames are published: all FAIL, all UNCERTAIN, frames with a rare or new class, and a
random share of PASS. Returns the reason (stored in the outcome and frame metadata) or ``None``."""

from __future__ import annotations

import random
import threading
from collections import Counter

from edge_agent.config import SamplingConfig
from edge_agent.decide.rules import Decision
from edge_agent.publish.buffer import PRIO_FAIL_FRAME, PRIO_FRAME, PRIO_PASS_FRAME
from factoryloop.schemas import Verdict

PRIORITY_OF_REASON = {
    "fail": PRIO_FAIL_FRAME,
    "uncertain": PRIO_FRAME,
    "rare_class": PRIO_FRAME,
    "pass_sample": PRIO_PASS_FRAME,
}


class Sampler:
    def __init__(self, config: SamplingConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reason(self, decision: Decision) -> str | None:
        cfg = self.config
        with self._lock:
            classes = {d.class_name for d in decision.detections}
            rare = any(self._seen[c] < cfg.rare_class_min_count for c in classes)
            self._seen.update(classes)
            if decision.verdict is Verdict.FAIL and cfg.fail:
                return "fail"
            if decision.verdict is Verdict.UNCERTAIN and cfg.uncertain:
                return "uncertain"
            if rare:
                return "rare_class"
            if decision.verdict is Verdict.PASS and cfg.pass_rate > 0 and self._rng.random() < cfg.pass_rate:
                return "pass_sample"
            return None
