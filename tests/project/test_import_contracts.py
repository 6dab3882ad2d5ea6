"""The package table of docs/architecture.md, enforced: import-linter's contracts (pyproject.toml), no
import circle between any two modules and no import from a lower layer to a higher one. The last two read
grimp's graph with type-checking imports (``if TYPE_CHECKING:``) and function-level imports included: a
circle or an upward arrow hidden there still ties the floors together. Each check is proven to fail on a
deliberate violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

# grimp's graph holds every import statement, function-level ones included; type-checking ones only when
# asked (both proven below by test_an_upward_import_inside_a_function_or_for_type_checking_breaks_the_checks).
GRAPH = """
import sys
import grimp

graph = grimp.build_graph("pipeline", "aba_tui", exclude_type_checking_imports=False)
"""

CYCLES = GRAPH + """
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

# Every import whose target sits on a higher layer of pyproject's contract than its importer.
UPWARD = GRAPH + """
import tomllib
from pathlib import Path

cfg = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
layers = next(c for c in cfg["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
floor = {name.strip(): i for i, layer in enumerate(layers) for name in layer.replace(":", "|").split("|")}

def floor_of(module):
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in floor:
            return floor[".".join(parts[:k])]
    return None

upward = []
for importer in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(importer)):
        a, b = floor_of(importer), floor_of(imported)
        if a is not None and b is not None and b < a:
            lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
            upward.append(f"{importer} -> {imported} (line {', '.join(map(str, lines))})")
print("\\n".join(upward))
sys.exit(1 if upward else 0)
"""


def _run(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def _contracts(root: Path) -> subprocess.CompletedProcess[str]:
    return _run(root, "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())")


def _layers() -> list[str]:
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    layers: list[str] = next(c for c in cfg["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    return layers


def test_contracts_hold() -> None:
    res = _contracts(REPO)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "broken" not in res.stdout.lower().replace("0 broken", "")


def test_no_module_imports_itself_through_a_circle() -> None:
    cyc = _run(REPO, CYCLES)
    assert cyc.returncode == 0, f"import circles: {cyc.stdout}{cyc.stderr}"


def test_no_import_runs_from_a_lower_layer_to_a_higher_one() -> None:
    up = _run(REPO, UPWARD)
    assert up.returncode == 0 and up.stdout.strip() == "", f"imports that run back up:\n{up.stdout}{up.stderr}"


def test_the_contract_reads_one_line_per_package() -> None:
    """Each layer names whole packages (``aba_tui``, ``pipeline.<sub>`` or a top-level module), and no
    package is split over two layers."""
    names = [name.strip() for layer in _layers() for name in layer.replace(":", "|").split("|")]
    assert all(name.count(".") <= 1 for name in names), [n for n in names if n.count(".") > 1]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


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
    assert "pipeline.config is not allowed to import pipeline.runs" in res.stdout
    cyc = _run(copy, CYCLES)
    assert cyc.returncode == 1 and "pipeline.config.schema" in cyc.stdout and "pipeline.runs.store" in cyc.stdout
    up = _run(copy, UPWARD)
    assert up.returncode == 1 and "pipeline.config.schema -> pipeline.runs.store" in up.stdout


def test_an_upward_import_inside_a_function_or_for_type_checking_breaks_the_checks(copy: Path) -> None:
    layout = copy / "pipeline" / "runs" / "layout.py"
    layout.write_text(layout.read_text() + "\n\ndef _late() -> None:\n"
                      "    import pipeline.monitor.series  # deliberate\n")
    paths = copy / "pipeline" / "config" / "paths.py"
    paths.write_text(paths.read_text() + "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                     "    import pipeline.checkpoints.store  # deliberate\n")
    up = _run(copy, UPWARD)
    assert up.returncode == 1, up.stdout + up.stderr
    assert "pipeline.runs.layout -> pipeline.monitor.series" in up.stdout
    assert "pipeline.config.paths -> pipeline.checkpoints.store" in up.stdout
    res = _contracts(copy)
    assert res.returncode != 0
    assert "pipeline.runs.layout -> pipeline.monitor.series" in res.stdout
    assert "pipeline.config.paths -> pipeline.checkpoints.store" in res.stdout


def test_a_circle_through_a_type_checking_import_breaks_the_cycle_check(copy: Path) -> None:
    # The compare ↔ runner circle of issue 20, put back the way it used to hide.
    compare = copy / "pipeline" / "abliterate" / "compare.py"
    compare.write_text(compare.read_text() + "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                       "    from pipeline.abliterate.runner import Abliteration  # deliberate\n")
    cyc = _run(copy, CYCLES)
    assert cyc.returncode == 1
    assert "pipeline.abliterate.compare" in cyc.stdout and "pipeline.abliterate.runner" in cyc.stdout


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


@pytest.mark.parametrize(("old", "new"), [("pipeline.supervisor", "pipeline.runs.supervisor"),
                                          ("pipeline.worker", "pipeline.runs.worker"),
                                          ("pipeline.ckpt_probe", "pipeline.probe.worker")])
def test_the_old_entry_points_still_start_the_moved_code(old: str, new: str) -> None:
    """A supervisor or a UI started before an upgrade spawns ``python -m <old>``: it must still run."""
    res = subprocess.run([sys.executable, "-m", old, "--help"], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert res.returncode == 0 and f"usage: python -m {new}" in res.stdout, res.stdout + res.stderr
