"""The package table of docs/architecture.md, enforced: import-linter's contracts (pyproject.toml) and no
import circle between any two modules; both proven to fail on a deliberate violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CYCLES = """
import sys
import grimp

graph = grimp.build_graph("pipeline", "aba_tui", exclude_type_checking_imports=True)
adj = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
index, low, stack, on, cycles = {}, {}, [], set(), []

def visit(v):  # Tarjan's strongly connected components: any with two modules or more is a circle
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in adj[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            cycles.append(sorted(comp))

sys.setrecursionlimit(10000)
for m in sorted(adj):
    if m not in index:
        visit(m)
print(cycles)
sys.exit(1 if cycles else 0)
"""


def _run(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def _contracts(root: Path) -> subprocess.CompletedProcess[str]:
    return _run(root, "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())")


def test_contracts_hold_and_no_module_imports_itself_through_a_circle() -> None:
    res = _contracts(REPO)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "broken" not in res.stdout.lower().replace("0 broken", "")
    cyc = _run(REPO, CYCLES)
    assert cyc.returncode == 0, f"import circles: {cyc.stdout}{cyc.stderr}"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("pipeline", "aba_tui"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_deliberate_circle_breaks_both_checks(copy: Path) -> None:
    # The schema sits at the bottom; the run store (above it) already reaches it through the config.
    schema = copy / "pipeline" / "config" / "schema.py"
    schema.write_text(schema.read_text() + "\nimport pipeline.runs.store  # deliberate circle\n")
    res = _contracts(copy)
    assert res.returncode != 0
    assert "pipeline.config.schema is not allowed to import pipeline.runs" in res.stdout
    cyc = _run(copy, CYCLES)
    assert cyc.returncode == 1 and "pipeline.config.schema" in cyc.stdout and "pipeline.runs.store" in cyc.stdout


def test_pipeline_importing_textual_breaks_the_contract(copy: Path) -> None:
    errors = copy / "pipeline" / "errors.py"
    errors.write_text(errors.read_text() + "\nimport textual  # deliberate\n")
    res = _contracts(copy)
    assert res.returncode != 0 and "pipeline.errors -> textual" in res.stdout


def test_every_module_has_a_place_in_the_layers() -> None:
    """A new module must be placed in the package table (pyproject's layers), or nothing checks its imports."""
    import pkgutil
    import tomllib

    import aba_tui
    import pipeline

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in cfg["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    unplaced = []
    for pkg in (pipeline, aba_tui):
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if mod.ispkg:
                continue  # a package's __init__ holds its docstring only
            parts = mod.name.split(".")
            if not any(".".join(parts[:i]) in placed for i in range(1, len(parts) + 1)):
                unplaced.append(mod.name)
    assert unplaced == [], f"modules in no layer of pyproject's [tool.importlinter] contract: {unplaced}"
