"""One retrain at a time per product."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training.errors import RetrainBusyError
from training.triggers import retrain_lock


def test_second_retrain_of_a_product_is_refused(tmp_path: Path) -> None:
    with retrain_lock(tmp_path, "steel"):
        with pytest.raises(RetrainBusyError, match="already running"), retrain_lock(tmp_path, "steel"):
            pass
        with retrain_lock(tmp_path, "tile"):  # another product is independent
            pass
        # and from another process
        code = (
            "import sys; from pathlib import Path; from training.triggers import retrain_lock\n"
            "from training.errors import RetrainBusyError\n"
            "try:\n    with retrain_lock(Path(sys.argv[1]), 'steel'): sys.exit(0)\n"
            "except RetrainBusyError as e:\n    print(e); sys.exit(3)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
        assert proc.returncode == 3 and "already running" in proc.stdout
    with retrain_lock(tmp_path, "steel"):  # released
        pass
