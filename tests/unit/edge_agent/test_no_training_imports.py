"""The edge agent runs with the ``edge`` extra only: importing it must never pull in torch or ultralytics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOCKER = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'ultralytics', 'mlflow', 'torchvision'):
            raise ImportError(f'edge agent must not import {name}')
        return None

sys.meta_path.insert(0, Block())
import pkgutil, importlib, edge_agent
mods = [m.name for m in pkgutil.walk_packages(edge_agent.__path__, 'edge_agent.')]
for m in mods:
    importlib.import_module(m)
from factoryloop.cli import app  # the CLI root too
assert not any(k.split('.')[0] in ('torch', 'ultralytics', 'mlflow') for k in sys.modules)
print(len(mods))
"""


def test_edge_agent_imports_without_torch_or_ultralytics() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip()) >= 25
