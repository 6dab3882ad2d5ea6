"""One source of truth each: the runs dir (flag, env, config file, ./runs) for the CLI and the TUI alike, and
a run's step/total computed once (the runs model) for `aba ps` and the runs pane."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aba_tui.app import AbaApp
from aba_tui.settings import load_settings
from pipeline.monitor.runs_model import RunsModel
from pipeline.runs.store import RunStore
from tests.support.paths import REPO


def _env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ABA_RUNS_DIR"}
    env["ABA_CONFIG"] = str(config)
    return env


def test_runs_dir_from_the_config_file_is_used_by_aba_run_ps_and_the_tui(tmp_path: Path) -> None:
    runs = tmp_path / "configured-runs"
    config = tmp_path / "config.toml"
    config.write_text(f'runs_dir = "{runs}"\n')
    cwd = tmp_path / "elsewhere"  # ./runs would be here: it must stay unused
    cwd.mkdir()
    env = _env(config)

    def aba(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aba_tui", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    res = aba("run", "selftest", "--set", "selftest.steps=2", "--wait")
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.split()[0]
    assert (runs / run_id / "status.json").is_file() and not (cwd / "runs").exists()
    ps = json.loads(aba("ps", "--json").stdout)
    assert [r["run_id"] for r in ps] == [run_id]
    # The TUI resolves the same folder from the same file (and a flag still wins over it).
    old = os.environ.pop("ABA_RUNS_DIR", None)
    try:
        assert AbaApp(settings=load_settings(config)).store.root == runs
        assert AbaApp(runs_dir=tmp_path / "flag", settings=load_settings(config)).store.root == tmp_path / "flag"
    finally:
        if old is not None:
            os.environ["ABA_RUNS_DIR"] = old


def _long_run(root: Path, run_id: str, state: str, steps: int, total: int) -> Path:
    """A run whose progress event (total_steps) sits at the top of a long events file."""
    d = root / run_id
    d.mkdir(parents=True)
    now = time.time()
    st = {"run_id": run_id, "stage": "dpo", "state": state, "host": "another-host", "started_at": now - 3600,
          "ended_at": None if state == "running" else now, "attempt": 1, "updated_at": now}
    (d / "status.json").write_text(json.dumps(st))
    (d / "run.toml").write_text('stage = "dpo"\n')
    lines = [json.dumps({"ts": now - 3600, "type": "progress", "step": 0, "total_steps": total})]
    pad = "x" * 200  # make each line long so the progress event is megabytes from the end
    lines += [json.dumps({"ts": now - 3600 + s, "type": "metrics", "step": s, "loss": 1.0 / s, "note": pad})
              for s in range(1, steps + 1)]
    (d / "events.jsonl").write_text("\n".join(lines) + "\n")
    return d


@pytest.mark.parametrize("state", ["succeeded", "running"])
def test_aba_ps_and_the_runs_pane_agree_on_step_and_total_far_from_the_progress_event(tmp_path: Path,
                                                                                     state: str) -> None:
    runs = tmp_path / "runs"
    run_id = f"20250101-0000-{state}"
    d = _long_run(runs, run_id, state, steps=12000, total=50000)
    assert d.joinpath("events.jsonl").stat().st_size > 2 << 20
    res = subprocess.run([sys.executable, "-m", "aba_tui", "ps", "--runs-dir", str(runs), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    ps = json.loads(res.stdout)[0]
    assert (ps["step"], ps["total_steps"]) == (12000, 50000)
    # The pane's model with the run selected (its series loaded) and a small full-history limit, so only the
    # file's tail is read, as for a big file whose history is not read behind it (history_bytes=0).
    model = RunsModel(RunStore(runs), tail_lines=2000, full_history_bytes=1 << 20, history_bytes=0)
    model.want({run_id})
    model.poll_once()
    model.poll_once()
    row = next(r for r in model.rows() if r.run_id == run_id)
    entry = model.entry(run_id)
    assert entry is not None and entry.loaded and entry.series.tail_only
    assert (row.step, row.total) == (ps["step"], ps["total_steps"])


# -- run:<id>[@checkpoint]: one parser, and the runs dir handed to every lookup ----------------------------
def test_run_references_parse_and_print_in_one_place() -> None:
    from pipeline.config.runref import RunRef, is_run_ref, parse_run_ref, run_ref
    from pipeline.errors import ConfigError

    assert parse_run_ref("run:20261121-1530-dpo-smollm2") == RunRef("20261121-1530-dpo-smollm2", None)
    assert parse_run_ref("run:abc@checkpoint-010") == RunRef("abc", "checkpoint-010")
    assert str(parse_run_ref("run: abc @best")) == "run:abc@best" == run_ref("abc", "best")
    assert run_ref("abc") == "run:abc" and not is_run_ref("runs/abc") and is_run_ref("run:x")
    for bad in ("run:", "run:@best", "run:abc@", "embedded"):
        with pytest.raises(ConfigError, match=r"eval\.models\[0\]=.*expected run:<id>\[@checkpoint\]"):
            parse_run_ref(bad, "eval.models[0]")


def test_no_module_parses_run_references_itself() -> None:
    """``startswith("run:")`` and ``ref[4:]`` were spelled in 7 modules; pipeline/config/runref.py is the one."""
    import ast

    found = []
    for path in sorted([*(REPO / "pipeline").rglob("*.py"), *(REPO / "aba_tui").rglob("*.py")]):
        if path.relative_to(REPO).as_posix() == "pipeline/config/runref.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            head = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
            text = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
            if text.startswith("run:") or "=run:" in text:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {text[:40]!r}")
    assert found == [], "use pipeline.config.runref (parse_run_ref, is_run_ref, run_ref):\n" + "\n".join(found)


def _datagen_run(root: Path, run_id: str = "20260101-0000-datagen-x") -> str:
    """A finished datagen run whose DPO output a later stage reads as ``dpo.data = run:<id>``."""
    from pipeline.data.loaders import DATA_DIR
    from pipeline.runs.layout import DATA, DATAGEN_OUTPUTS
    from pipeline.runs.status import Status, write_status

    folder = root / run_id / DATA
    folder.mkdir(parents=True)
    (folder / DATAGEN_OUTPUTS["dpo"]).write_text((DATA_DIR / "epistemic-stance-25.jsonl").read_text())
    write_status(root / run_id, Status(run_id=run_id, stage="datagen", state="succeeded"))
    return run_id


def test_aba_run_looks_run_sources_up_in_its_runs_dir_flag_not_the_default(store: RunStore, tmp_path: Path) -> None:
    from pipeline.runs.launcher import stop, wait_for
    from pipeline.runs.status import TERMINAL

    rid = _datagen_run(store.root)
    other = tmp_path / "other-runs"  # the default runs dir ($ABA_RUNS_DIR) holds no such run
    other.mkdir()
    env = {**{k: v for k, v in os.environ.items() if k != "ABA_RUNS_DIR"}, "ABA_CONFIG": str(tmp_path / "none.toml")}

    def aba(runs_dir: Path, default: Path, *sets: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aba_tui", "run", "dpo", "--runs-dir", str(runs_dir),
                               *(a for s in sets for a in ("--set", s))], cwd=REPO, capture_output=True, text=True,
                              env={**env, "ABA_RUNS_DIR": str(default)}, timeout=120)

    missed = aba(other, store.root, f"dpo.data=run:{rid}")
    assert missed.returncode == 2 and f"dpo.data='run:{rid}': no such run in {other}" in missed.stderr
    assert list(other.iterdir()) == []  # refused before any run folder exists

    ok = aba(store.root, other, f"dpo.data=run:{rid}", "dpo.max_steps=1")
    assert ok.returncode == 0, ok.stderr
    new = ok.stdout.split()[0]
    assert (store.root / new / "run.toml").is_file() and list(other.iterdir()) == []
    # The preflight was the point: stop it once its supervisor is up (no need to train).
    if wait_for(store, new, {"running", "lost", *TERMINAL}, timeout=60) == "running":
        stop(store, new, grace=0)
    assert wait_for(store, new, {"lost", *TERMINAL}, timeout=60) in TERMINAL


@pytest.mark.asyncio
async def test_aba_ui_launch_form_looks_run_sources_up_in_the_apps_runs_dir(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`aba ui --runs-dir X` builds AbaApp(runs_dir=X); its launch form's preflight must read X, not the
    default runs dir (it used to: only `aba run` pointed the lookup at its flag, through the environment)."""
    from aba_tui.screens.launch import LaunchScreen
    from pipeline.config.run import RunConfig
    from tests.support.tui import copy_fixture, make_app, settle, wait_until

    runs = copy_fixture(tmp_path)
    rid = _datagen_run(runs)
    other = tmp_path / "default-runs"
    other.mkdir()
    monkeypatch.setenv("ABA_RUNS_DIR", str(other))
    app = make_app(tmp_path, runs_dir=runs)
    launched: list[RunConfig] = []
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        app._launch = launched.append  # type: ignore[method-assign]  # the form is under test, not a training run
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        form.query_one("#what").value = "stage:dpo"
        await wait_until(pilot, lambda: bool(form.query("#f-dpo-data")), what="the dpo fields")
        err = form.query_one("#launch-error")
        form.query_one("#f-dpo-data").value = "run:20990101-nope"
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: f"no such run in {runs}" in str(err.render()), what="the lookup in X")
        form.query_one("#f-dpo-data").value = f"run:{rid}"
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: bool(launched), what="the form's preflight to pass")
        assert not isinstance(app.screen, LaunchScreen) and launched[0].sections["dpo"].data == f"run:{rid}"


# -- run-folder names: pipeline/runs/layout.py spells them, no other module -------------------------------
def _layout_names() -> set[str]:
    from pipeline.runs import layout

    names: set[str] = set()
    for value in vars(layout).values():
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, dict):
            names.update(v for v in value.values() if isinstance(v, str))
    return names


def _run_dir_depth(node: ast.expr) -> int:
    """How many ``/`` joins below a run folder ``node`` is (``run_dir``, ``ctx.run_dir``, ``Path(run_dir)``
    are 0; ``run_dir / DATA`` is 1 …); -1 when it is not rooted at one."""
    depth = 0
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        node, depth = node.left, depth + 1
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return depth if name.endswith("run_dir") else -1


def _run_folder_literals(path: Path, names: set[str]) -> list[str]:
    """String literals in ``path`` that spell a run-folder name: a layout name (a file name, with a dot or a
    dash) anywhere but a docstring; a literal joined with ``/`` onto a run folder or a folder in it; an
    f-string joined onto the run folder itself (one inside a named folder is data: ``checkpoint-{step}``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and node.value in names and any(c in node.value for c in ".-")):
            found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            depth = _run_dir_depth(node.left)
            if (depth >= 0 and isinstance(node.right, ast.Constant)) or \
                    (depth == 0 and isinstance(node.right, ast.JoinedStr)):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_spells_a_run_folder_name_but_the_layout() -> None:
    names = _layout_names()
    assert {"status.json", "judge-cache", "eval_report.json", "comparison.md", "heal_pairs.jsonl"} <= names
    found = []
    for path in sorted([*(REPO / "pipeline").rglob("*.py"), *(REPO / "aba_tui").rglob("*.py")]):
        if path.relative_to(REPO).as_posix() != "pipeline/runs/layout.py":
            found += [f"{path.relative_to(REPO)}:{hit}" for hit in _run_folder_literals(path, names)]
    assert found == [], "import the name from pipeline/runs/layout.py (add it there if it is new):\n" + "\n".join(found)


def test_the_run_folder_check_catches_a_known_name_and_a_new_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('"""A module that mentions status.json in its docstring (fine)."""\n'
                   'from pathlib import Path\n\n\n'
                   'def f(run_dir: Path, ctx: object) -> None:\n'
                   '    (run_dir / "status.json").read_text()  # a known name, spelled again\n'
                   '    (Path(run_dir) / "new-notes.txt").write_text("")  # a new name, not in the layout\n'
                   '    print(ctx.run_dir / f"trial-{1}.json", "judge-cache")\n'
                   '    print(run_dir / DATA / "more.jsonl", run_dir / DATA / f"{1}.jsonl")  # the f-string is data\n')
    hits = sorted(_run_folder_literals(bad, _layout_names()))
    assert [h.split(":")[0] for h in hits] == ["6", "6", "7", "8", "8", "9"], hits


def test_every_name_of_the_documented_run_folder_is_a_layout_name() -> None:
    """docs/run-folder.md's tree and the layout agree: a name documented there is a constant here."""
    import re

    doc = (REPO / "docs" / "run-folder.md").read_text(encoding="utf-8")
    tree = doc.split("```", 2)[1].splitlines()[2:]  # below runs/<run_id>/
    files = r"(?<![/\w.<-])[\w.][\w.<>-]*\.(?:toml|jsonl?|log|lost|sh|out|md|journal|pt|gguf)\b"
    documented = {n for line in tree for n in re.findall(files, line)}
    # Folders: the first column's names ("checkpoints/<name>/" is checkpoints) and dot-files there.
    heads = [re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] for line in tree if line.startswith("  ") and
             not line.startswith("   ")]
    documented |= {h.split("/")[0] for h in heads if "/" in h or h.startswith(".")}
    documented = {n.replace("<job>", "%j") for n in documented}
    assert {"status.json", "slurm-%j.out", "checkpoints", ".trainer", "items.jsonl", "chosen-f16.gguf"} <= documented
    names = _layout_names()
    missing = sorted(n for n in documented if n not in names and not n.startswith("<"))
    assert missing == [], f"documented in docs/run-folder.md but not a constant of pipeline/runs/layout.py: {missing}"
