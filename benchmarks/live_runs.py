"""One live run of each stage the registry knows, for the TUI benchmarks (``--scenario stages``).

Each run starts as the recorded run of its stage under tests/fixtures/ (``runs/`` for the trainers,
``stage_runs/`` and ``more_stage_runs/`` for the others; found by the stage its status.json names), its
times moved to end just now, and goes on in a **feeder process** (``python benchmarks/live_runs.py FOLDER``): the run's
supervisor pid is the feeder's and its worker pid a ``sleep`` child of it (real processes on this host,
so the runs model's liveness check and telemetry's per-run sampling run as for a real run), and every
``--every`` seconds each run gets its next group of events, made from the last events of its recorded
phase (the same types and fields, steps going on, numbers moving) plus a stdout line. Runs are staggered
across the interval, as independent workers are. The benchmarks measure the TUI's process only; the
feeder's own CPU stays out of the figure.

1 s per run is at least as often as any stage logs on a small model (a trainer's per-step metrics); the
slower stages (abliteration trials, merge branches, export phases) are over-fed, which only costs the
TUI more.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from pipeline.runs.vocabulary import EventType

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
RECORDED = (FIXTURES / "stage_runs", FIXTURES / "more_stage_runs", FIXTURES / "runs")
PLAN = "live-plan.json"  # in the runs dir's parent: what the feeder appends where
# the types a worker keeps emitting
FED = (EventType.TRIAL, EventType.METRICS, EventType.PROGRESS, EventType.EXPORT, EventType.JUDGE)
ENDED = {"succeeded", "failed", "oom", "stopped", "lost"}
FIXED = {"ts", "type", "step", "total_steps", "total", "phase", "phases"}


def recorded_runs() -> dict[str, Path]:
    """Stage → its recorded run folder (a running one first, then the one with the most events)."""
    found: dict[str, tuple[tuple[bool, int], Path]] = {}
    for base in RECORDED:
        for st in sorted(base.glob("*/status.json")):
            data = json.loads(st.read_text())
            rank = (data.get("state") == "running", (st.parent / "events.jsonl").stat().st_size)
            if data["stage"] not in found or rank > found[data["stage"]][0]:
                found[data["stage"]] = (rank, st.parent)
    return {stage: path for stage, (_rank, path) in found.items()}


def scenario() -> str:
    """The runs of ``--scenario stages`` in words, for a results file."""
    from pipeline import registry

    names = list(registry.stages())
    return f"one live run of each of the {len(names)} stages ({', '.join(names)})"


def read_events(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # the selftest fixture's malformed lines: a benchmark run starts clean
        if isinstance(ev, dict) and not (ev.get("type") == EventType.STATUS and ev.get("state") in ENDED):
            out.append(ev)
    return out


@dataclass
class Feed:
    """How one run goes on: its last event of each fed type, the step it reached and how far a group moves it."""

    run_id: str
    templates: list[dict[str, Any]]
    step: int
    delta: int
    total: int | None
    deltas: dict[str, dict[str, int]] = field(default_factory=dict)  # type → int field → change per group
    k: int = 0

    def next_group(self, now: float) -> list[dict[str, Any]]:
        self.k += 1
        step = self.step + self.k * self.delta
        out = []
        for i, tmpl in enumerate(self.templates):
            ev = dict(tmpl, ts=now)
            if "step" in ev:
                ev["step"] = step
            for key, d in self.deltas.get(tmpl["type"], {}).items():
                ev[key] = tmpl[key] + self.k * d
            for key in ("total_steps", "total"):
                if key in ev and self.total is not None:
                    ev[key] = self.total
            for j, (key, v) in enumerate(tmpl.items()):
                if key not in FIXED and isinstance(v, float) and key not in self.deltas.get(tmpl["type"], {}):
                    ev[key] = round(v * (1 + 0.05 * math.sin(step / 3 + i + j)), 6)  # moves, stays plausible
            out.append(ev)
        return out


def current_phase(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events since the current phase began (its step-0 progress), or all of them."""
    start = 0
    for i, ev in enumerate(events):
        if ev.get("type") == EventType.PROGRESS and ev.get("step") == 0:
            start = i
    return events[start:]


def _growing(values: list[Any]) -> bool:
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return len(ints) == len(values) and all(b >= a for a, b in pairwise(ints)) and ints[-1] > ints[-2]


def plan_feed(run_id: str, events: list[dict[str, Any]], groups: int) -> tuple[Feed, list[dict[str, Any]]]:
    """The feed that continues ``events`` for ``groups`` groups, and the backlog to write first (the current
    phase's total raised where the run would otherwise pass it: the run stays mid-way)."""
    cur = current_phase(events)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for ev in cur:
        if ev.get("type") in FED and isinstance(ev.get("step"), int):
            by_type.setdefault(ev["type"], []).append(ev)
    fed = {t: evs for t, evs in by_type.items() if len(evs) >= 2} or {
        t: evs for t, evs in by_type.items() if t in (EventType.METRICS, EventType.PROGRESS)}
    if not fed:
        raise SystemExit(f"live_runs: {run_id}'s recorded events have no metrics or progress to go on from")
    templates, deltas = [], {}
    for t in FED:
        if t not in fed:
            continue
        evs = fed[t]
        counts = Counter(frozenset(e) for e in evs)
        sig = [frozenset(e) for e in evs if counts[frozenset(e)] == max(counts.values())][-1]  # ties: the latest
        same = [e for e in evs if frozenset(e) == sig]
        templates.append(same[-1])
        if len(same) >= 2:  # counts (done, errors, trial) go on growing; other integers stay as they were
            deltas[t] = {k: same[-1][k] - same[-2][k] for k, v in same[-1].items()
                         if k not in FIXED and isinstance(v, int) and not isinstance(v, bool)
                         and _growing([e.get(k) for e in same[-5:]])}
    primary = max(fed.values(), key=len)
    step = max(e["step"] for evs in fed.values() for e in evs)
    delta = max(1, primary[-1]["step"] - primary[-2]["step"]) if len(primary) >= 2 else 1
    totals = [t for t in (e.get("total_steps", e.get("total")) for e in cur) if isinstance(t, int)]
    total = totals[-1] if totals else None
    if total is not None and step + groups * delta >= total:
        total = step + 2 * groups * delta
        now_phase = {id(e) for e in cur}
        events = [dict(e, **{k: total for k in ("total_steps", "total") if k in e}) if id(e) in now_phase else e
                  for e in events]
    return Feed(run_id, templates, step, delta, total, deltas), events


def make_runs(runs_dir: Path, groups: int, skip_feed: frozenset[str] = frozenset()) -> dict[str, str]:
    """One run of each stage in ``runs_dir`` from its recording (times ending now); stage → run id. Writes the
    feeder's plan beside ``runs_dir``; ``skip_feed``: stages the caller feeds itself."""
    from pipeline import registry

    recorded = recorded_runs()
    missing = [s for s in registry.stages() if s not in recorded]
    if missing:
        raise SystemExit(f"live_runs: no recorded run of stage(s) {', '.join(missing)} under "
                         f"{', '.join(str(p.relative_to(ROOT)) for p in RECORDED)} (add one to its make_fixture.py)")
    now = time.time()
    ids, feeds = {}, []
    for stage in registry.stages():
        src = recorded[stage]
        events = read_events(src / "events.jsonl")
        shift = now - 1.0 - max(e["ts"] for e in events)
        events = [dict(e, ts=e["ts"] + shift) for e in events]
        rid = f"{src.name}-live"
        feed, events = plan_feed(rid, events, groups)
        d = runs_dir / rid
        d.mkdir(parents=True)
        shutil.copy(src / "run.toml", d / "run.toml")
        status = json.loads((src / "status.json").read_text())
        status.update(run_id=rid, state="running", ended_at=None, exit_code=None, reason=None,
                      started_at=status["started_at"] + shift, updated_at=now)
        (d / "status.json").write_text(json.dumps(status))  # the feeder adds its pids before the app starts
        (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        shutil.copy(src / "stdout.log", d / "stdout.log")
        (d / "stderr.log").write_text("")
        ids[stage] = rid
        if stage not in skip_feed:
            feeds.append({"run_id": rid, "templates": feed.templates, "step": feed.step, "delta": feed.delta,
                          "total": feed.total, "deltas": feed.deltas})
    (runs_dir.parent / PLAN).write_text(json.dumps({"runs": list(ids.values()), "feeds": feeds}))
    return ids


class Feeder:
    """The feeder process, started and stopped by a benchmark (``with Feeder(runs_dir, every): ...``)."""

    def __init__(self, runs_dir: Path, every: float) -> None:
        self.runs_dir, self.every = runs_dir, every
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Feeder:
        ready = self.runs_dir.parent / "feeder.ready"
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.runs_dir), "--every", str(self.every)],
                                     cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 30
        while not ready.exists():  # every status names its pids before the app first reads them
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"live_runs: the feeder did not start (exit {self.proc.poll()})")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def feed(runs_dir: Path, every: float) -> None:
    """The feeder's loop: mark each run as ours (pids), then append each run's next group in turn."""
    from pipeline.atomic import atomic_write_json
    from pipeline.runs.procinfo import start_ticks

    plan = json.loads((runs_dir.parent / PLAN).read_text())
    workers: list[subprocess.Popen[bytes]] = []
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    try:
        for rid in plan["runs"]:
            worker = subprocess.Popen(["sleep", "3600"])  # the run's worker as telemetry sees it
            workers.append(worker)
            path = runs_dir / rid / "status.json"
            status = json.loads(path.read_text())
            status.update(host=socket.gethostname(), supervisor_pid=os.getpid(),
                          supervisor_start=start_ticks(os.getpid()), pid=worker.pid, pid_start=start_ticks(worker.pid))
            atomic_write_json(path, status)
        (runs_dir.parent / "feeder.ready").write_text(str(os.getpid()))
        feeds = [Feed(**f) for f in plan["feeds"]] if every > 0 else []  # 0: running but silent
        t0 = time.monotonic()
        due = [t0 + every * (i + 1) / max(1, len(feeds)) for i in range(len(feeds))]  # staggered
        while not stop[0] and not feeds:
            time.sleep(0.2)
        while not stop[0] and feeds:
            i = min(range(len(feeds)), key=due.__getitem__)
            time.sleep(max(0.0, due[i] - time.monotonic()))
            if stop[0]:
                break
            f = feeds[i]
            with open(runs_dir / f.run_id / "events.jsonl", "a") as fh:
                fh.write("".join(json.dumps(ev) + "\n" for ev in f.next_group(time.time())))
            with open(runs_dir / f.run_id / "stdout.log", "a") as fh:
                fh.write(f"{f.run_id}: step {f.step + f.k * f.delta}\n")
            due[i] += every
    finally:
        for w in workers:
            w.terminate()
            w.wait()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs_dir", type=Path)
    ap.add_argument("--every", type=float, default=1.0)
    a = ap.parse_args()
    feed(a.runs_dir, a.every)
