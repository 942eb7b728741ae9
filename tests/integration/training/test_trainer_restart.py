"""A trainer restart on the real broker: the new-labels count is the dataset store's, so it goes on where it
was; the retrain request fires exactly once at the threshold; queued requests (and a retrain that was running)
survive a stop and a SIGKILL.

The retrain is the injected ``run`` (as in test_trainer_service): it records each request. Kafka, the ingest,
the store, the triggers and the queue are real; the SIGKILL variant runs each trainer in its own process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from factoryloop.kafka import EventProducer
from factoryloop.settings import KafkaSettings
from factoryloop.topics import TopicRole
from tests.support import events as ev
from training.datasets import DatasetStore
from training.service import TrainerService
from training.settings import TrainSettings
from training.triggers import NewLabelsTriggerConfig, RetrainRequest, TrainerState, TriggersConfig, state_path

pytestmark = pytest.mark.kafka
CONFIG = TriggersConfig(
    triggers=(NewLabelsTriggerConfig(min_labels=6, classes=("crack",)),), check_every_s=0.3
)
FIRED = "6 new reviews with crack (threshold 6)"
REPO = Path(__file__).resolve().parents[3]


def _publish(kafka: KafkaSettings, product: str, seeds: range, classes: tuple[str, ...] = ("crack",)) -> None:
    """A frame of ``product`` and its review per seed (a review is stored once its frame is)."""
    dets = tuple(ev.detection(class_name=c, class_id=1, confidence=1.0) for c in classes)
    with EventProducer(kafka) as producer:
        for seed in seeds:
            img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
            jpeg = cv2.imencode(".jpg", img)[1].tobytes()
            meta = ev.frame(jpeg, width=64, height=48, frame_id=f"f{seed}", product=product)
            producer.send(TopicRole.FRAMES, meta, jpeg=jpeg)
            label = ev.label(product=product, frame_sha256=meta.jpeg_sha256, detections=dets)
            producer.send(TopicRole.LABELS, label)
        producer.flush(30)


def _wait(
    what: str, done: Callable[[], bool], timeout_s: float = 90, check: Callable[[], None] = lambda: None
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        check()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class InProcess:
    """One trainer service in a thread of this process, stopped the way SIGTERM stops `train watch`."""

    def __init__(self, root: Path, settings: TrainSettings, ran: list[RetrainRequest]) -> None:
        self.store = DatasetStore(root)
        self.service = TrainerService(self.store, settings, CONFIG, run=self._run)
        self.ran = ran
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.service.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def _run(self, request: RetrainRequest) -> str:
        self.ran.append(request)
        return f"trained {request.product}"

    def check(self) -> None:
        assert not self.service.errors, self.service.errors

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()
        self.store.close()


def test_count_goes_on_after_a_stop_and_fires_once(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    settings = TrainSettings(state_dir=tmp_path / "state", kafka=kafka_settings)
    root = tmp_path / "store"
    ran: list[RetrainRequest] = []
    first = InProcess(root, settings, ran)
    _publish(kafka_settings, "plate", range(0, 3))
    _publish(kafka_settings, "plate", range(3, 5), classes=("dent",))  # stored, not counted
    _wait("5 reviews stored", lambda: first.store.review_counts() == {"plate": 5}, check=first.check)
    assert first.store.review_counts(classes=["crack"]) == {"plate": 3}
    first.close()
    assert ran == []

    # While no trainer runs: the next one's ingest resumes from the committed offsets.
    _publish(kafka_settings, "plate", range(10, 12))
    second = InProcess(root, settings, ran)
    _wait(
        "5 crack reviews",
        lambda: second.store.review_counts(classes=["crack"]) == {"plate": 5},
        check=second.check,
    )
    time.sleep(1.0)  # several checks at 5 of 6: nothing fires
    assert ran == []
    _publish(kafka_settings, "plate", range(12, 13))
    _wait("the retrain at 6", lambda: len(ran) == 1, check=second.check)
    time.sleep(1.5)
    assert [(r.product, r.trigger, r.reason) for r in ran] == [("plate", "new_labels", FIRED)]
    assert second.store.review_counts(classes=["crack"]) == {}
    second.close()


# The SIGKILL variant: each trainer is `python -c CHILD ...`; its retrains append a line to a file, and with
# block=1 the first one never ends (a long retrain, interrupted by the kill).
CHILD = """
import json, os, signal, sys, threading, time
from pathlib import Path
from factoryloop.settings import KafkaSettings
from training.datasets import DatasetStore
from training.service import TrainerService
from training.settings import TrainSettings
from training.triggers import TriggersConfig

root, state_dir, bootstrap, prefix, runs, block, config = sys.argv[1:]
kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)

def run(request):
    line = {"pid": os.getpid(), "product": request.product, "reason": request.reason}
    with open(runs, "a") as fh:
        fh.write(json.dumps(line) + "\\n")
        fh.flush()
        os.fsync(fh.fileno())
    if block == "1":
        time.sleep(3600)
    return "trained " + request.product

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with DatasetStore(root) as store:
    settings = TrainSettings(state_dir=Path(state_dir), kafka=kafka)
    TrainerService(store, settings, TriggersConfig.model_validate_json(config), run=run).run(stop)
"""


def _runs(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sigkill_keeps_the_count_and_the_queue(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    root, state_dir, runs = tmp_path / "store", tmp_path / "state", tmp_path / "runs.jsonl"
    store = DatasetStore(root)  # read-only here: the counts the trainers see

    def start(block: bool) -> subprocess.Popen[bytes]:
        args = [str(root), str(state_dir), kafka_settings.bootstrap_servers, kafka_settings.topic_prefix]
        args += [str(runs), "1" if block else "0", CONFIG.model_dump_json()]
        log = (tmp_path / "trainer.log").open("ab")
        return subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=REPO, stdout=log, stderr=log)

    def alive(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
        def check() -> None:
            assert proc.poll() is None, (tmp_path / "trainer.log").read_text()[-3000:]

        return check

    first = start(block=True)
    try:
        _publish(kafka_settings, "tile", range(0, 6))  # fires: its retrain runs (and blocks)
        _wait(
            "tile's retrain running",
            lambda: [r["product"] for r in _runs(runs)] == ["tile"],
            check=alive(first),
        )
        _publish(kafka_settings, "disc", range(10, 16))  # fires: waits behind tile
        _publish(kafka_settings, "plate", range(20, 23))  # half of plate's threshold
        _wait(
            "disc queued and plate's 3 reviews counted",
            lambda: store.review_mark("disc") > 0 and store.review_counts(classes=["crack"]) == {"plate": 3},
            check=alive(first),
        )
    finally:
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    state = TrainerState(state_path(state_dir))
    queued = [(q.request.product, q.running) for q in state.load_queue()]
    state.close()
    assert queued == [("tile", True), ("disc", False)]

    _publish(kafka_settings, "plate", range(23, 26))  # the other half, while no trainer runs
    second = start(block=False)
    try:
        _wait("three retrains after the restart", lambda: len(_runs(runs)) >= 4, check=alive(second))
        time.sleep(2.0)  # a second plate request would come within a few checks
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, (tmp_path / "trainer.log").read_text()[-3000:]
    after = [(r["product"], r["reason"]) for r in _runs(runs) if r["pid"] == second.pid]
    assert after == [("tile", FIRED), ("disc", FIRED), ("plate", FIRED)]  # the re-queued one first
    assert store.review_counts(classes=["crack"]) == {}
    state = TrainerState(state_path(state_dir))
    assert state.load_queue() == []
    state.close()
    store.close()
