"""The `aba` command line: headless control of runs, and the TUI when no subcommand is given.

Every error is one line on stderr with exit code 2; nothing is half-made (run folders are created
only after the whole config validates).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aba_tui.cli_serve import add_parser as add_serve_parser
from pipeline import registry
from pipeline.config.paths import resolve_runs_dir
from pipeline.config.run import build_config, preset_path, read_toml
from pipeline.errors import AbaError
from pipeline.runs import launcher
from pipeline.runs.cluster.state import where as cluster_where
from pipeline.runs.events import Follower, parse_line, read_last_lines
from pipeline.runs.layout import EVENTS_FILE, RUN_TOML, STDERR_LOG, STDOUT_LOG
from pipeline.runs.status import ACTIVE, TERMINAL, Status
from pipeline.runs.store import RunInfo, RunStore

if TYPE_CHECKING:
    from pipeline.monitor.entries import RunRow


def _store(args: argparse.Namespace) -> RunStore:
    return RunStore(resolve_runs_dir(getattr(args, "runs_dir", None)))


def _rows(store: RunStore, infos: list[RunInfo]) -> list[dict]:
    from pipeline.monitor.runs_model import snapshot_rows  # the runs pane's own computation

    outside = [i.path for i in infos if i.path.parent.resolve() != store.root.resolve()]
    prows = snapshot_rows(store, outside)
    return [_row(i, prows.get(i.path.resolve())) for i in infos]


def _row(info: RunInfo, prow: RunRow | None) -> dict:
    """The status of a run plus step, total, loss and ETA exactly as the runs pane computes them."""
    st = info.status
    row: dict = {"run_id": info.run_id, "state": info.state, "reason": info.error}
    if st is not None:
        row = st.to_dict()
        row.update(state=st.state, reason=st.reason)
    if prow is not None:
        row.update(state=prow.state, reason=prow.reason or row.get("reason"))
        progress = {"step": prow.step, "total_steps": prow.total, "loss": prow.loss, "eta_s": prow.eta_s,
                    "phase": prow.phase, "eta_more": prow.eta_more or None}
        row.update({k: v for k, v in progress.items() if v is not None})
    return row


def where(row: dict) -> str:
    """Where a run lives: ``local`` or ``slurm:<job id>@<node list>`` (``-`` for a corrupt status)."""
    if "stage" not in row:
        return "-"
    return cluster_where(Status.from_dict(row))


# -- commands -------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    files = [preset_path(args.preset)] if args.preset else []
    files += [Path(f) for f in args.config or []]
    cfg = build_config(args.stage, files, args.set)
    cfg.after += args.after or []
    from pipeline.train.preflight import preflight_chain  # light: data rows and stage settings

    store = _store(args)
    # A bad dataset is refused before any run folder exists; run:<id> sources are looked up in this runs dir.
    preflight_chain(cfg, store.root)
    # Imported before the launch: a ctrl-c once the run id is out must find the wait's own handler.
    from aba_tui.cli_ps import wait_whole_chain

    existed = store.root.is_dir()
    run_id, _path = launcher.launch(store, cfg, force=args.force)
    if not existed:
        print(f"aba: created the runs dir {store.root}", file=sys.stderr)
    if args.wait:  # prints the id inside its ctrl-c handler: a ctrl-c right after it still says the run goes on
        return wait_whole_chain(store, run_id, args.wait_timeout)
    print(run_id, flush=True)
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    from pipeline.runs.faults.runs_dir import runs_dir_warning

    store = _store(args)
    store.check_readable()
    warning = runs_dir_warning(store.root)
    if warning:
        print(f"aba: warning: {warning}", file=sys.stderr)
    from aba_tui.cli_ps import ps_lines, watch_ps

    if args.watch:
        if not args.interval >= 0.1:
            raise AbaError(f"--interval {args.interval:g}: expected seconds between redraws, 0.1 or more (e.g. 2)")
        return watch_ps(store, args.interval, lambda st: _rows(st, st.list_runs()), where)
    rows = _rows(store, store.list_runs())
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print("\n".join(ps_lines(store, rows, where)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    info = store.get(args.run)
    row = _rows(store, [info])[0]
    if args.json:
        print(json.dumps(row, indent=2, default=str))
    else:
        from aba_tui.cli_show import status_lines

        for key, value in status_lines(row, info.path):
            print(f"{key:>14}: {value}")
    return 0 if info.status is not None else 1


def cmd_tail(args: argparse.Namespace) -> int:
    info = _store(args).get(args.run)
    paths = [info.path / EVENTS_FILE]
    if args.logs:
        paths = [info.path / STDOUT_LOG, info.path / STDERR_LOG]
    for p in paths:
        if p.exists():
            for raw in read_last_lines(p, args.lines):
                sys.stdout.write(raw.decode("utf-8", "replace") + "\n")
    sys.stdout.flush()
    if not args.follow:
        return 0
    followers = [Follower(p, offset=p.stat().st_size if p.exists() else 0) for p in paths]
    try:
        while True:
            for f in followers:
                lines, _reset = f.read_lines()
                for raw in lines:
                    if args.logs:
                        sys.stdout.write(raw.decode("utf-8", "replace") + "\n")
                    else:
                        ev = parse_line(raw)
                        if ev is not None:
                            sys.stdout.write(json.dumps(ev) + "\n")
                sys.stdout.flush()
            if info.status and read_state(info) not in ACTIVE and not any(f.pending() for f in followers):
                return 0
            time.sleep(0.25)
    except KeyboardInterrupt:
        return 0


def read_state(info: RunInfo) -> str:
    from pipeline.runs.status import read_status

    return read_status(info.path).state


def cmd_stop(args: argparse.Namespace) -> int:
    store = _store(args)
    run_id = launcher.stop(store, args.run, args.grace)
    print(f"{run_id}: stop requested", flush=True)
    if args.wait:
        try:
            state = launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=args.wait_timeout)
        except KeyboardInterrupt:
            print(f"aba: stopped waiting; run {run_id} still stops (it saves a checkpoint first)", file=sys.stderr)
            return 130
        print(f"{run_id}: {state}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    print(launcher.resume(_store(args), args.run))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from pipeline.doctor import main as doctor_main

    return doctor_main(smoke=args.smoke, as_json=args.json, runs_dir=_store(args).root, keep=args.keep)


def cmd_presets(args: argparse.Namespace) -> int:
    from pipeline.config.presets import all_presets

    for info in all_presets():
        needs = f"  (requires {', '.join(info.requires)})" if info.requires else ""
        print(f"{info.name:<22} {info.chain}{needs}")
        print(f"{'':<22} {info.description}")
        print(f"{'':<22} data: {info.data}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        from aba_tui.app import run_app
    except ImportError as exc:  # a broken install (Textual missing): the subcommands still work
        raise AbaError(f"the TUI is not available in this build ({exc}); use the subcommands (aba --help)") from None
    # None when not given: run_app then tries $ABA_RUNS_DIR, the config's runs_dir, then ./runs.
    return run_app(runs_dir=args.runs_dir, open_path=getattr(args, "path", None),
                   theme=getattr(args, "theme", None))


def _active_demo(store: RunStore) -> str | None:
    """The newest active run of the demo preset (its DPO stage or the export it chains to)."""
    found = []
    for info in store.list_runs():
        if info.state not in ACTIVE:
            continue
        try:
            name = read_toml(info.path / RUN_TOML).get("name")
        except AbaError:
            continue
        if name == "demo":
            found.append(info.run_id)
    return max(found) if found else None


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the demo preset unless a demo run is already active, then open the TUI on it."""
    store = _store(args)
    run_id = _active_demo(store)
    if run_id is None:
        cfg = build_config(None, [preset_path("demo")])
        from pipeline.train.preflight import preflight_chain

        preflight_chain(cfg, store.root)
        run_id, _path = launcher.launch(store, cfg)
        print(f"started demo run {run_id} in {store.root}", file=sys.stderr)
    else:
        print(f"demo run {run_id} is already running; opening it", file=sys.stderr)
    if args.no_ui:
        print(run_id)
        return 0
    from aba_tui.app import run_app

    return run_app(runs_dir=store.root, theme=getattr(args, "theme", None), select_run=run_id)


# -- parser ---------------------------------------------------------------------------------------
RUNS_DIR_HELP = "folder of run folders (default: $ABA_RUNS_DIR, the config file's runs_dir, or ./runs)"


def build_parser() -> argparse.ArgumentParser:
    # --runs-dir goes before or after the command: the command's own default is SUPPRESS, so it never
    # overwrites a value given before the command (`aba --runs-dir DIR run …`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR", help=RUNS_DIR_HELP)
    top = argparse.ArgumentParser(add_help=False)
    top.add_argument("--runs-dir", type=Path, default=None, metavar="DIR", help=RUNS_DIR_HELP)
    p = argparse.ArgumentParser(prog="aba", parents=[top],
                                description="ABA Control Centre: drive and watch LLM fine-tuning runs. "
                                "With no command, opens the control centre (TUI).")
    p.add_argument("--theme", default=None,
                   help="TUI theme name (aba-dark, aba-light, aba-contrast, or a Textual theme)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("run", parents=[common], help="start a stage or preset as a detached run",
                       description="Validate the config, create the run folder, start its supervisor "
                       "(which outlives this shell) and print the run id.")
    s.add_argument("stage", nargs="?", choices=list(registry.stages()), metavar="STAGE",
                   help="one of: " + ", ".join(registry.stages()))
    s.add_argument("--config", action="append", metavar="FILE", help="TOML config (repeatable; later wins)")
    s.add_argument("--preset", metavar="NAME", help="a preset from `aba presets`")
    s.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one value, e.g. --set dpo.beta=0.2 (repeatable)")
    s.add_argument("--wait", action="store_true",
                   help="wait for the run and every stage its chain starts; exit 0 if the last succeeded, else 1 "
                        "naming the stage that did not")
    s.add_argument("--force", action="store_true",
                   help="start even when the runs dir has less free space than the run will write")
    s.add_argument("--wait-timeout", type=float, default=24 * 3600, metavar="SECONDS",
                   help="with --wait: give up waiting after this long, the whole chain (default 24 h; the runs go on)")
    s.add_argument("--after", action="append", metavar="RUN",
                   help="start only once RUN succeeded (repeatable); fails if RUN does not succeed")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("ps", parents=[common], help="list runs with their true state")
    shown = s.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="one JSON object per run, raw values")
    shown.add_argument("--watch", "-w", action="store_true",
                       help="redraw the table in place as the runs move, until ctrl-c (plain text: works over SSH)")
    s.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="with --watch: seconds between redraws (default 2)")
    s.set_defaults(func=cmd_ps)

    s = sub.add_parser("status", parents=[common], help="one run's status")
    s.add_argument("run", help="run id (or a unique prefix/suffix, or a run folder)")
    s.add_argument("--json", action="store_true", help="the status as JSON, raw values")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("tail", parents=[common], help="print a run's events (or logs), optionally following")
    s.add_argument("run", help="run id (or a unique prefix/suffix, or a run folder)")
    s.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the run ends")
    s.add_argument("--logs", action="store_true", help="stdout.log and stderr.log instead of events")
    s.add_argument("--lines", "-n", type=int, default=20, help="lines to print from the end first (default 20)")
    s.set_defaults(func=cmd_tail)

    s = sub.add_parser("stop", parents=[common], help="ask a run to stop (SIGTERM, checkpoint, exit)")
    s.add_argument("run", help="run id (or a unique prefix/suffix, or a run folder)")
    s.add_argument("--grace", type=float, default=None, metavar="SECONDS",
                   help="seconds before SIGKILL (default: supervisor.grace_seconds of the run)")
    s.add_argument("--wait", action="store_true", help="wait until the run has ended and print its state")
    s.add_argument("--wait-timeout", type=float, default=600, metavar="SECONDS",
                   help="with --wait: give up waiting after this long (default 600)")
    s.set_defaults(func=cmd_stop)

    s = sub.add_parser("resume", parents=[common], help="relaunch a run from its last complete checkpoint")
    s.add_argument("run", help="run id (or a unique prefix/suffix, or a run folder)")
    s.set_defaults(func=cmd_resume)

    s = sub.add_parser("doctor", parents=[common], help="check python, torch/CUDA, VRAM, libraries, disk, model")
    s.add_argument("--smoke", action="store_true", help="also run a few training steps on the embedded model")
    s.add_argument("--keep", action="store_true", help="with --smoke: keep its run in the runs dir (else removed)")
    s.add_argument("--json", action="store_true", help="the checks as JSON")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("presets", parents=[common], help="list the run presets")
    s.set_defaults(func=cmd_presets)

    s = sub.add_parser("open", parents=[common], help="open a run folder or foreign log in the TUI")
    s.add_argument("path", type=Path, help="a run folder, trainer_state.json, an HF output dir, a TensorBoard "
                   "log dir, or any JSONL of numbers")
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("demo", parents=[common], help="start the CPU demo run (DPO on the embedded model, then "
                       "GGUF export) unless one is active, and open the control centre on it")
    s.add_argument("--no-ui", action="store_true", help="only start (or find) the demo run and print its id")
    s.set_defaults(func=cmd_demo)

    add_serve_parser(sub, common)

    s = sub.add_parser("ui", parents=[common], help="open the control centre (the default)")
    s.set_defaults(func=cmd_ui)
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_ui)
    try:
        return func(args)
    except AbaError as exc:
        print(f"aba: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("aba: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file the run folder holds in a form we do not read (a FIFO, a link), a full disk
        print(f"aba: {exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 1
