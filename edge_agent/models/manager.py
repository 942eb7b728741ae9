"""Model slots: the champion serving every frame, an optional shadow challenger, and the atomic swap.

A deployment is fetched, verified, loaded into a second slot, checked against this agent (its product, the
classes its rules name: :mod:`edge_agent.models.compat`), warmed up and smoke tested on recent frames; only
then does one reference assignment make it current, between two frames (the inference thread reads
``current`` once per frame), so no frame is dropped. Any failure keeps the current model and is reported, with
its reason (the check that refused it).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.detect.onnx_runtime import DetectorOptions, OnnxDetector
from edge_agent.errors import AgentError, DetectorError, ModelRejected
from edge_agent.models.compat import missing_classes, model_product, product_problem
from edge_agent.models.fetch import check_sha256, check_signature, fetch
from edge_agent.models.store import ModelStore
from edge_agent.settings import AgentSettings
from factoryloop.schemas import AgentEventType, Deployment, ModelRef, Strategy

logger = logging.getLogger(__name__)

# (event, deployment, model, detail, reason): reason is the check that refused a model, None for other events
EventCallback = Callable[[AgentEventType, Deployment | None, ModelRef | None, str, str | None], None]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    detector: OnnxDetector
    ref: ModelRef
    deployment_id: str | None = None
    product: str | None = None  # the model's metadata, else its deployment's; None: not said


@dataclass(frozen=True, slots=True)
class ShadowSlot:
    model: LoadedModel
    sample_rate: float


def smoke_test(detector: OnnxDetector, frames: list[np.ndarray], max_latency_ms: float) -> float:
    """Run on ``frames``: output decodes (shape, finite, class ids), latency bounded. Returns the worst ms."""
    worst = 0.0
    for frame in frames or [np.full((480, 640, 3), 114, np.uint8)]:
        t0 = time.perf_counter()
        raw = detector.infer(frame)
        worst = max(worst, (time.perf_counter() - t0) * 1000)
        if len(raw) and (raw.scores.min() < 0 or raw.scores.max() > 1.0 + 1e-6):
            raise ModelRejected(
                f"smoke test: scores outside [0, 1]: {raw.scores.min()}..{raw.scores.max()}", "smoke"
            )
    if worst > max_latency_ms:
        raise ModelRejected(f"smoke test: inference took {worst:.0f} ms > {max_latency_ms:.0f} ms", "smoke")
    return worst


class ModelManager:
    def __init__(
        self,
        initial: LoadedModel,
        options: DetectorOptions,
        store: ModelStore,
        settings: AgentSettings,
        *,
        smoke_frames: int = 4,
        smoke_max_latency_ms: float = 2000.0,
        on_event: EventCallback | None = None,
        product: str | None = None,
        rule_classes: Iterable[str] = (),
    ) -> None:
        self._current = initial
        self._shadow: ShadowSlot | None = None
        self.options = options
        self.store = store
        self.settings = settings
        self.smoke_max_latency_ms = smoke_max_latency_ms
        self.on_event = on_event
        self.product = product  # this agent's product (AgentConfig.product); None accepts any
        self.rule_classes = tuple(rule_classes)  # rules.classes: each must be a class of a deployed model
        self.last_error: str | None = None
        self.rejected = 0
        self.swaps = 0
        self._recent: deque[np.ndarray] = deque(maxlen=smoke_frames)
        self._lock = threading.Lock()  # one deployment at a time

    @property
    def current(self) -> LoadedModel:
        return self._current

    @property
    def shadow(self) -> ShadowSlot | None:
        return self._shadow

    def remember(self, image: np.ndarray) -> None:
        """Called by the inference thread now and then: frames for the next smoke test."""
        self._recent.append(image)

    def _emit(
        self,
        kind: AgentEventType,
        dep: Deployment | None,
        ref: ModelRef | None,
        detail: str,
        reason: str | None = None,
    ) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, dep, ref, detail, reason)
            except AgentError:
                logger.exception("could not report %s", kind)

    def accepts_product(self, dep: Deployment) -> bool:
        """Whether ``dep`` is (as far as it says) of this agent's product; :meth:`apply` refuses it if not."""
        return product_problem(self.product, dep.product) is None

    def is_current(self, dep: Deployment) -> bool:
        if dep.strategy is Strategy.END_SHADOW:  # done when this model is not (or no longer) in shadow here
            return self._shadow is None or self._shadow.model.ref.sha256 != dep.sha256
        if dep.strategy is Strategy.SHADOW:
            return self._shadow is not None and self._shadow.model.ref.sha256 == dep.sha256
        if dep.strategy is Strategy.ROLLBACK and self._shadow is not None:
            return False  # a rollback also ends the shadow (a challenger rolled back from its shadow stage)
        return self._current.ref.sha256 == dep.sha256

    def apply(self, dep: Deployment) -> bool:
        """Load ``dep``; True when it now serves (or shadows). Never raises for a bad model. A rollback ends
        the shadow; one to the model already serving does only that. An ``end_shadow`` only ends it."""
        if dep.strategy is Strategy.END_SHADOW:
            self.end_shadow(dep)
            return True
        if dep.strategy is Strategy.ROLLBACK and self._current.ref.sha256 == dep.sha256:
            with self._lock:
                ended, self._shadow = self._shadow, None
            if ended is not None:
                logger.info("deployment %s: shadow %s ended", dep.deployment_id, ended.model.ref)
            self._emit(AgentEventType.MODEL_LOADED, dep, self._current.ref, dep.strategy.value)
            return True
        with self._lock:
            try:
                loaded, staged = self._prepare(dep)
            except (ModelRejected, DetectorError, OSError, ValueError) as exc:
                # ValueError: malformed metadata in the file (e.g. its ``names``): a bad model, refused too
                reason = exc.reason if isinstance(exc, ModelRejected) else "load"
                self.rejected += 1
                self.last_error = f"{dep.model_name}:{dep.model_version}: {exc}"
                logger.error(
                    "deployment %s rejected, keeping %s: %s", dep.deployment_id, self._current.ref, exc
                )
                ref = ModelRef(name=dep.model_name, version=dep.model_version, sha256=dep.sha256)
                self._emit(AgentEventType.MODEL_REJECTED, dep, ref, str(exc), reason)
                return False
            try:
                if dep.strategy is Strategy.SHADOW:
                    self._shadow = ShadowSlot(loaded, dep.shadow_sample_rate)
                else:
                    self.store.save(
                        staged,
                        loaded.ref,
                        loaded.detector.class_names,
                        loaded.detector.imgsz,
                        dep.deployment_id,
                        loaded.product,
                    )
                    self._current = loaded  # the swap: one reference assignment, between two frames
                    self.swaps += 1
                    if self._shadow is not None and (
                        self._shadow.model.ref.sha256 == dep.sha256 or dep.strategy is Strategy.ROLLBACK
                    ):
                        self._shadow = None  # the challenger was promoted, or rolled back
            finally:
                staged.unlink(missing_ok=True)
            self.last_error = None
            logger.info(
                "deployment %s: now %s %s (product %s%s)",
                dep.deployment_id,
                "shadowing" if dep.strategy is Strategy.SHADOW else "serving",
                loaded.ref,
                loaded.product or "not said",
                "" if self.product else "; this agent has no product configured and accepts any",
            )
            self._emit(AgentEventType.MODEL_LOADED, dep, loaded.ref, dep.strategy.value)
            return True

    def end_shadow(self, dep: Deployment) -> bool:
        """Stop running ``dep``'s model in shadow (an ``end_shadow``, or a later stage of its rollout that
        leaves this agent out); True when a shadow ended. What this agent serves does not change."""
        with self._lock:
            ended = self._shadow
            if ended is None or ended.model.ref.sha256 != dep.sha256:
                return False
            self._shadow = None
        logger.info("deployment %s (%s): shadow %s ended", dep.deployment_id, dep.strategy, ended.model.ref)
        self._emit(AgentEventType.MODEL_LOADED, dep, self._current.ref, "shadow ended")
        return True

    def _prepare(self, dep: Deployment) -> tuple[LoadedModel, Path]:
        staged = self.store.dir / f"staging-{dep.deployment_id}.onnx"
        try:
            check_signature(dep, self.settings)  # before fetching anything from an unverified URI
            self._check_product(dep, None)  # a deployment of another product is not even fetched
            kept = self.store.kept(dep.sha256)
            if kept is not None:  # served here before (a rollback): no download, whoever holds the files
                shutil.copyfile(kept, staged)
                logger.info("deployment %s: %s loaded from %s", dep.deployment_id, dep.model_version, kept)
            else:
                fetch(dep.artifact_uri, staged, self.settings)
            check_sha256(staged, dep.sha256)
            opts = DetectorOptions(
                imgsz=dep.imgsz,
                threads=self.options.threads,
                class_names=dep.class_names,
                conf=self.options.conf,
                iou=self.options.iou,
                max_det=self.options.max_det,
                warmup_runs=self.options.warmup_runs,
            )
            detector = OnnxDetector(staged, opts)
            self._check_product(dep, model_product(detector.metadata))
            missing = missing_classes(self.rule_classes, detector.class_names)
            if missing:
                raise ModelRejected(
                    f"the model lacks {', '.join(missing)} named by rules.classes "
                    f"(model classes: {', '.join(detector.class_names)})",
                    "classes",
                )
            detector.warmup()
            smoke_test(detector, list(self._recent), self.smoke_max_latency_ms)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        ref = ModelRef(name=dep.model_name, version=dep.model_version, sha256=dep.sha256)
        product = model_product(detector.metadata) or dep.product
        return LoadedModel(detector, ref, dep.deployment_id, product), staged

    def _check_product(self, dep: Deployment, model: str | None) -> None:
        problem = product_problem(self.product, dep.product, model)
        if problem is not None:
            raise ModelRejected(problem, "product")
