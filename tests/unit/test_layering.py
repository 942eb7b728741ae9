"""Who may import whom, read from the source (absolute imports, at any depth, lazy ones included):

- the edge agent never imports training or the API; the API never imports training;
- the simulator (``factoryloop.sim``) is the test bench: only the simulator itself (its demo harness and its
  ``sim`` and ``demo`` CLI groups included, which the CLI root names by module path and loads on demand) and
  the agent's simulated camera source import it;
- the shared package imports the process packages only where it composes them: the CLI, the site backup
  (it reads each process's settings) and the simulator's demo.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("edge_agent", "api", "training", "factoryloop")
SIM_USERS = ("factoryloop.sim", "edge_agent.sources.simulated")
COMPOSERS = ("factoryloop.cli", "factoryloop.backup", "factoryloop.sim.demo")


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def edges() -> Iterator[tuple[str, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for imported in sorted(set(imports(path))):
                yield module, imported


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


RULES = {
    "the edge agent imports training or the API": lambda m, i: (
        within(m, ("edge_agent",)) and within(i, ("training", "api"))
    ),
    "the API imports training": lambda m, i: within(m, ("api",)) and within(i, ("training",)),
    "a module outside the simulator imports it": lambda m, i: (
        within(i, ("factoryloop.sim",)) and not within(m, SIM_USERS)
    ),
    "the shared package imports a process package": lambda m, i: (
        within(m, ("factoryloop",))
        and within(i, ("training", "api", "edge_agent"))
        and not within(m, COMPOSERS)
    ),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_layering(rule: str) -> None:
    broken = [f"{m} -> {i}" for m, i in edges() if RULES[rule](m, i)]
    assert not broken, f"{rule}: " + ", ".join(broken)


def test_the_rules_see_the_imports() -> None:
    found = set(edges())
    assert ("factoryloop.sim.demo.cli", "factoryloop.sim.demo.demo") in found  # lazy, inside a function
    assert any(m.startswith("edge_agent.") for m, _ in found) and any(m.startswith("api.") for m, _ in found)
