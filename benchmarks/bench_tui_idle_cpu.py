"""CPU of the app idle with live runs and telemetry at 1 Hz (budget < 3 % of one core).

`aba` runs in a real terminal (tmux, 160×48) on a runs dir of live runs, telemetry sampling at the
default 1 s. ``--scenario stages`` (the default, issue #25's): one live run of each stage the registry
knows, each its recorded run going on in a feeder process (benchmarks/live_runs.py: real pids on this
host, its stage's events every ``--every`` seconds, staggered). ``--scenario trainers``: 4 DPO runs,
each getting one metrics event every ``--every`` seconds from a writer thread here. ``--every`` 1 (the
default) is a small model's logging rate, 0 running but silent; each event comes with a stdout line.
Nobody touches the keyboard. After a warm-up, the app process's CPU time (all its threads, user +
system) is read over the window; ``--reps`` windows, each with a fresh app. Baseline, measured at the
same time in its own tmux window: a minimal Textual app (one Static) left idle. Writes
benchmarks/results/tui-idle-cpu.json and .md (tui-idle-cpu-trainers.* for that scenario; every window, the worst
against the budget); asserts nothing.

    .venv/bin/python benchmarks/bench_tui_idle_cpu.py [--scenario stages|trainers] [--seconds 30] [--reps 5]
        [--every 1] [--hide charts,...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.record
MINIMAL = "from textual.app import App\nfrom textual.widgets import Static\n" \
          "class Hello(App):\n    def compose(self):\n        yield Static('hello')\nHello().run()\n"


def make_runs(root: Path, n: int) -> list[Path]:
    out = []
    now = time.time()
    for i in range(n):
        rid = f"20250301-12{i:02d}-dpo-bench{i}"
        d = root / rid
        d.mkdir(parents=True)
        (d / "status.json").write_text(json.dumps({"run_id": rid, "stage": "dpo", "state": "running",
                                                   "host": "bench-host", "started_at": now - 600, "pid": None}))
        (d / "run.toml").write_text('stage = "dpo"\n')
        with open(d / "events.jsonl", "w") as fh:
            fh.write(json.dumps({"ts": now, "type": "progress", "step": 0, "total_steps": 100000}) + "\n")
            for s in range(1, 501):
                fh.write(json.dumps({"ts": now - 500 + s, "type": "metrics", "step": s, "loss": 1 / s,
                                     "accuracy": 0.5}) + "\n")
        out.append(d)
    return out


def writer(runs: list[Path], stop: threading.Event, every: float = 1.0) -> None:
    step = 501
    while not stop.wait(every):
        for d in runs:
            with open(d / "events.jsonl", "a") as fh:
                fh.write(json.dumps({"ts": time.time(), "type": "metrics", "step": step, "loss": 1 / step,
                                     "accuracy": 0.6, "lr": 1e-5, "grad_norm": 1.0}) + "\n")
            with open(d / "stdout.log", "a") as fh:
                fh.write(f"step {step}\n")
        step += 1


def pane_pid(sock: list[str], target: str) -> int:
    out = subprocess.run([*sock, "list-panes", "-t", target, "-F", "#{pane_pid}"], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def measure(args: argparse.Namespace) -> dict[str, float]:
    """One window: % of one core used by aba and by the minimal app, side by side in tmux."""
    tmp = Path(tempfile.mkdtemp(prefix="aba-bench-idle-"))
    sock = ["tmux", "-L", f"aba-bench-{os.getpid()}", "-f", "/dev/null"]
    stop = threading.Event()
    try:
        with contextlib.ExitStack() as live:
            return _measure(args, tmp, sock, stop, live)
    finally:
        stop.set()
        subprocess.run([*sock, "kill-server"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(args: argparse.Namespace, tmp: Path, sock: list[str], stop: threading.Event,
             live: contextlib.ExitStack) -> dict[str, float]:
    if args.scenario == "stages":
        from benchmarks.live_runs import Feeder
        from benchmarks.live_runs import make_runs as live_runs

        groups = int((args.warmup + args.seconds + 10) / args.every) + 10 if args.every > 0 else 0
        shown = "live"  # every run id ends so
        live_runs(tmp / "runs", groups)
        live.enter_context(Feeder(tmp / "runs", args.every))
    else:
        shown = "bench0"
        runs = make_runs(tmp / "runs", 4)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "TERM": "xterm-256color"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an operator's Python keeps its bytecode
    if args.hide:
        (tmp / "xdg" / "aba").mkdir(parents=True)
        hidden = ", ".join(f'"{p}"' for p in args.hide.split(","))
        (tmp / "xdg" / "aba" / "config.toml").write_text(f"[panes]\nhidden = [{hidden}]\n")
    py = sys.executable
    subprocess.run([*sock, "new-session", "-d", "-s", "aba", "-x", "160", "-y", "48",
                    f"{py} -m aba_tui --runs-dir {tmp / 'runs'}"], env=env, cwd=ROOT, check=True)
    (tmp / "minimal.py").write_text(MINIMAL)
    subprocess.run([*sock, "new-session", "-d", "-s", "min", "-x", "160", "-y", "48",
                    f"{py} {tmp / 'minimal.py'}"], env=env, cwd=ROOT, check=True)
    if args.every > 0 and args.scenario == "trainers":
        threading.Thread(target=writer, args=(runs, stop, args.every), daemon=True).start()
    time.sleep(args.warmup)
    procs = {"aba": psutil.Process(pane_pid(sock, "aba")), "minimal Textual": psutil.Process(pane_pid(sock, "min"))}
    start = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(args.seconds)
    wall = time.monotonic() - t0
    used = {k: (sum(p.cpu_times()[:2]) - start[k]) / wall * 100 for k, p in procs.items()}
    screen = subprocess.run([*sock, "capture-pane", "-p", "-t", "aba"], capture_output=True, text=True).stdout
    assert shown in screen or "runs" in args.hide, screen
    return used


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=("stages", "trainers"), default="stages",
                    help="stages: one live run of each stage the registry knows (issue #25); trainers: 4 DPO runs")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=8.0)
    ap.add_argument("--reps", type=int, default=5, help="windows, each in a fresh app (the budget holds in every one)")
    ap.add_argument("--hide", default="", help="comma list of panes to hide (to see what each costs)")
    ap.add_argument("--every", type=float, default=1.0,
                    help="seconds between events of each run (0: running but silent, e.g. a long eval)")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench_tui_idle_cpu: needs tmux (bash scripts/setup.sh --test installs it)")
    from benchmarks.live_runs import scenario
    from benchmarks.record import Check, Record

    runs = scenario() if args.scenario == "stages" else "4 running DPO runs"
    name = "tui-idle-cpu" if args.scenario == "stages" else f"tui-idle-cpu-{args.scenario}"
    rec = Record(name, f"Idle CPU of the control centre with {runs.split(' (')[0]}", reps=args.reps)
    rate = f"each run's events every {args.every:g} s" if args.every > 0 else "no new events"
    ours: list[float] = []
    base: list[float] = []
    for rep in range(args.reps):
        used = measure(args)
        ours.append(used["aba"])
        base.append(used["minimal Textual"])
        print(f"rep {rep + 1}: aba {used['aba']:5.2f} %   minimal Textual {used['minimal Textual']:5.2f} % of one core "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    hidden = f"; panes hidden: {args.hide}" if args.hide else ""
    rec.finish([
        Check(f"% of a core, worst of {args.reps} windows", max(ours), max(base), "% of a core", "minimal Textual app",
              budget_value=3.0, note=f"{args.seconds:g} s windows after {args.warmup:g} s warm-up; {runs} "
                                     f"({rate}), telemetry 1 Hz, tmux 160×48{hidden}; budget < 3 % in every window"),
        Check(f"% of a core, median of {args.reps}", statistics.median(ours), statistics.median(base), "% of a core",
              "minimal Textual app", budget_value=3.0),
    ], figures={"scenario": args.scenario, "runs": runs, "aba": ours, "minimal": base, "seconds": args.seconds,
                "every_s": args.every, "hidden": args.hide},
        notes=[f"windows under 3 %: {sum(v < 3 for v in ours)} of {len(ours)}"])


if __name__ == "__main__":
    main()
