"""Make Ultralytics fully offline. Call :func:`ensure_offline` before anything imports ``ultralytics``.

Ultralytics probes the network at import (``ONLINE``), downloads fonts for plots, auto-installs missing
packages, syncs analytics, runs an AMP check that downloads weights on CUDA, and (through its MLflow callback)
calls ``mlflow.autolog()`` process-wide. All of that is switched off here; factoryloop logs to MLflow itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_FONTS = ("Arial.ttf", "Arial.Unicode.ttf")
_SETTINGS = {
    "sync": False,
    "api_key": "",
    "clearml": False,
    "comet": False,
    "dvc": False,
    "mlflow": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
    "vscode_msg": False,
    "openvino_msg": False,
}
_lock = threading.Lock()
_done: Path | None = None


def _default_dir() -> Path:
    from training.settings import get_settings

    return get_settings().ultralytics_dir


def _font_source() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return path if path.is_file() else None


def _install_fonts(config_dir: Path) -> None:
    source = _font_source()
    for name in _FONTS:
        target = config_dir / name
        if target.exists():
            continue
        if source is None:
            logger.warning(
                "no TTF to copy to %s; keep plots=False so Ultralytics never looks for fonts", target
            )
            return
        config_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        shutil.copyfile(source, tmp)
        tmp.replace(target)


def _offline_check_amp(model: Any) -> bool:
    """Replacement of Ultralytics' AMP check, (downloads yolo26n.pt on CUDA): AMP on CUDA only."""
    device = next(model.parameters()).device
    return device.type == "cuda"


def _patch_imported() -> None:
    """Set the module-level flags Ultralytics computed at import (in case it was imported before us)."""
    for name in ("ultralytics.utils", "ultralytics.utils.checks", "ultralytics.utils.events"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "ONLINE"):
            setattr(module, "ONLINE", False)  # noqa: B010
    for name in ("ultralytics.utils", "ultralytics.utils.checks"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "AUTOINSTALL"):
            setattr(module, "AUTOINSTALL", False)  # noqa: B010
    import ultralytics.engine.trainer as trainer_module

    trainer_module.check_amp = _offline_check_amp


def ensure_offline(state_dir: Path | None = None) -> Path:
    """Configure Ultralytics to never touch the network; return its config dir. Idempotent, thread-safe.

    ``state_dir`` (default: the trainer's ``ultralytics_dir``) holds Ultralytics' settings.json, fonts,
    and its default weights/datasets/runs dirs, so nothing is written to the working directory.
    """
    global _done
    with _lock:
        if _done is not None:
            return _done
        root = (state_dir or _default_dir()).expanduser().resolve()
        already = "ultralytics" in sys.modules
        os.environ["YOLO_OFFLINE"] = "true"
        os.environ["YOLO_AUTOINSTALL"] = "false"
        os.environ["YOLO_VERBOSE"] = os.environ.get("YOLO_VERBOSE", "false")
        if not already:
            os.environ["YOLO_CONFIG_DIR"] = str(root)
        root.mkdir(parents=True, exist_ok=True)
        import ultralytics.utils as uutils

        config_dir = Path(uutils.USER_CONFIG_DIR)
        if already:
            logger.warning(
                "ultralytics was imported before ensure_offline(); using its config dir %s", config_dir
            )
        _install_fonts(config_dir)
        uutils.SETTINGS.update(
            {
                **_SETTINGS,
                "datasets_dir": str(root / "datasets"),
                "weights_dir": str(root / "weights"),
                "runs_dir": str(root / "runs"),
            }
        )
        _patch_imported()
        _done = config_dir
        logger.debug("ultralytics offline, config dir %s", config_dir)
        return config_dir


def yolo_class() -> Any:
    """``ultralytics.YOLO``, imported only after :func:`ensure_offline`."""
    ensure_offline()
    from ultralytics import YOLO

    return YOLO
