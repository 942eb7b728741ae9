"""Where a home's state lives, found the way each process finds it (its settings class), and where a restore
puts it.

The API's and the trainer's settings classes are imported inside :func:`discover` (not at module import):
``factoryloop backup`` then works on a machine with only the shared package installed, falling back to the
same defaults those classes use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from factoryloop.settings import datasets_root, factoryloop_home

logger = logging.getLogger(__name__)

#: Paths of a home, relative to it: where the processes keep their state by default (and where a restore
#: writes it). The MLflow ones are the local stack's (``factoryloop.stack.mlflow_server``).
API_DB = "api/factoryloop.db"
API_FRAMES = "api/frames"
MLFLOW_DB = "stack/mlflow/mlflow.db"
MLFLOW_ARTIFACTS = "stack/mlflow/artifacts"
DATASETS = "datasets"
TRAINING = "training"


@dataclass(frozen=True)
class Sources:
    """What ``backup create`` saves: database URLs (SQLAlchemy/MLflow form) and folders."""

    home: Path
    api_db_url: str
    frames_dir: Path
    mlflow_backend_uri: str
    mlflow_artifacts: str
    datasets_dir: Path
    training_state_dir: Path


@contextmanager
def _home_env(home: Path | None) -> Iterator[None]:
    """``FACTORYLOOP_HOME=home`` while the settings classes read their defaults (then as it was)."""
    if home is None:
        yield
        return
    before = os.environ.get("FACTORYLOOP_HOME")
    os.environ["FACTORYLOOP_HOME"] = str(home)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FACTORYLOOP_HOME", None)
        else:
            os.environ["FACTORYLOOP_HOME"] = before


def _api_paths() -> tuple[str, Path, Path | None]:
    """The API's database URL, frame store and product catalog override (None: the dataset store's)."""
    try:
        from api.settings import ApiSettings  # lazy: the api extra may not be installed here
    except ImportError as exc:
        logger.info("API settings unavailable (%s): using its defaults under the home", exc)
        home = factoryloop_home()
        return f"sqlite:///{home / API_DB}", home / API_FRAMES, None
    settings = ApiSettings()
    return settings.database_url, settings.frames_dir, settings.products_dir


def _training_state_dir() -> Path:
    try:
        from training.settings import TrainSettings  # lazy, as above
    except ImportError as exc:
        logger.info("trainer settings unavailable (%s): using its default under the home", exc)
        return factoryloop_home() / TRAINING
    return TrainSettings().state_dir


def _mlflow_dir() -> Path:
    from factoryloop.stack.settings import StackSettings

    return StackSettings().state_dir / "mlflow"


def discover(
    home: Path | None = None,
    *,
    api_db_url: str | None = None,
    frames_dir: Path | None = None,
    mlflow_backend_uri: str | None = None,
    mlflow_artifacts: str | None = None,
    datasets_dir: Path | None = None,
    training_state_dir: Path | None = None,
) -> Sources:
    """The state of ``home`` (default ``$FACTORYLOOP_HOME``) as its processes see it; each argument given
    overrides one location.

    API: ``ApiSettings`` (``FACTORYLOOP_API_DATABASE_URL``, ``..._FRAMES_DIR``); trainer: ``TrainSettings``
    (``FACTORYLOOP_TRAIN_STATE_DIR``); dataset store: ``$FACTORYLOOP_DATASETS`` or ``<home>/datasets``;
    MLflow: ``MLFLOW_BACKEND_STORE_URI`` / ``MLFLOW_ARTIFACTS_DESTINATION`` (what the site's MLflow unit
    starts it with), else the local stack's ``<home>/stack/mlflow``."""
    with _home_env(home.expanduser() if home else None):
        db_url, frames, products = _api_paths()
        state_dir = _training_state_dir()
        mlflow_dir = _mlflow_dir()
        store = (datasets_dir or datasets_root()).expanduser()
        if products is not None and not products.expanduser().resolve().is_relative_to(store.resolve()):
            logger.warning(
                "the API reads products from %s, outside the dataset store %s: the backup holds the "
                "store's catalog (%s/products) only",
                products,
                store,
                store,
            )
        return Sources(
            home=factoryloop_home(),
            api_db_url=api_db_url or db_url,
            frames_dir=(frames_dir or frames).expanduser(),
            mlflow_backend_uri=mlflow_backend_uri
            or os.environ.get("MLFLOW_BACKEND_STORE_URI")
            or f"sqlite:///{mlflow_dir / 'mlflow.db'}",
            mlflow_artifacts=mlflow_artifacts
            or os.environ.get("MLFLOW_ARTIFACTS_DESTINATION")
            or str(mlflow_dir / "artifacts"),
            datasets_dir=store,
            training_state_dir=(training_state_dir or state_dir).expanduser(),
        )


def local_folder(location: str) -> Path | None:
    """The folder of a plain path or ``file:`` URI; None for a remote store (``s3://`` ...)."""
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # (a one-letter scheme is a Windows drive)
        return None
    return Path(location).expanduser()
