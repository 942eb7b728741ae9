"""Record an evaluation of a registered version as a finished MLflow run in the training experiment.

Tags say what was evaluated on what (``factoryloop.kind: evaluation``, product, model
name/version/source/sha256, data kind/ref/sha256); metrics are ``eval_<metric>`` overall and
``eval_<metric>.<class>`` per class; the whole ``--json`` document is the artifact ``evaluation.json``.
A version's evaluations: ``tags.model_version = 'N' and tags.product = 'P'`` in the experiment.
"""

from __future__ import annotations

import logging
import re
import time

from training.errors import RegistryError
from training.evaluation.report import OVERALL_KEYS, Evaluation, to_json
from training.registry.mlflow_run import client, experiment_id, git_revision

logger = logging.getLogger(__name__)

KIND_TAG = "factoryloop.kind"
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]+")


def metric_key(*parts: str) -> str:
    """An MLflow metric name (letters, digits, ``_-. /`` only)."""
    return ".".join(_KEY.sub("_", p.replace("-", "_")) for p in parts)


def evaluation_metrics(ev: Evaluation) -> dict[str, float]:
    out = {metric_key(f"eval_{k}"): float(ev.overall[k]) for k in OVERALL_KEYS}
    for row in ev.classes:
        out[metric_key("eval_instances", row.name)] = float(row.instances)
        for key, value in (
            ("eval_precision", row.precision),
            ("eval_recall", row.recall),
            ("eval_ap50", row.ap50),
            ("eval_ap50_95", row.ap50_95),
        ):
            if value is not None:
                out[metric_key(key, row.name)] = float(value)
    return out


def evaluation_tags(ev: Evaluation, product: str) -> dict[str, str]:
    m, d = ev.model, ev.data
    return {
        KIND_TAG: "evaluation",
        "product": product,
        "model_name": m.name,
        "model_version": m.version or "",
        "model_source": m.source,
        "model_sha256": m.sha256,
        "model_precision": m.precision,
        "data_kind": d.kind,
        "data_ref": d.ref,
        "data_sha256": d.sha256 or "",
        "data_format": d.format,
        "mlflow.source.git.commit": git_revision(),
    }


def log_evaluation(tracking_uri: str, experiment: str, ev: Evaluation, product: str) -> str:
    """Create the run; return its id."""
    from mlflow.entities import Metric, Param

    mlflow = client(tracking_uri)
    now = int(time.time() * 1000)
    try:
        run = mlflow.create_run(
            experiment_id(mlflow, experiment),
            run_name=f"eval-{product}-v{ev.model.version}-{ev.data.ref}"[:250],
            tags=evaluation_tags(ev, product),
        )
        run_id = str(run.info.run_id)
        mlflow.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in evaluation_metrics(ev).items()],
            params=[
                Param("conf", str(ev.conf)),
                Param("iou", str(ev.iou)),
                Param("images", str(ev.data.images)),
                Param("matrix_conf", str(ev.confusion.conf)),
                Param("matrix_iou", str(ev.confusion.iou)),
            ],
        )
        mlflow.log_dict(run_id, to_json(ev), "evaluation.json")
        mlflow.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # MLflow raises MlflowException, requests errors, OSError
        raise RegistryError(f"logging the evaluation to MLflow at {tracking_uri} failed: {exc}") from exc
    logger.info("logged evaluation of %s v%s as run %s", ev.model.name, ev.model.version, run_id)
    return run_id
