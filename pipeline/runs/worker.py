"""The worker process: ``python -m pipeline.runs.worker RUN_DIR [--resume]``.

It loads run.toml, turns SIGTERM into a stop request the stage honours (save a checkpoint, exit),
and runs the stage's worker module (``pipeline.stages.<stage>`` unless the registry names another) with
``run(ctx)``. Heavy libraries are imported by the stage, here only.
A stage that fails on purpose (NaN guard, bad data) records its reason in worker_result.json, which
the supervisor prefers to guessing from stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn, TextIO, cast

from pipeline import registry
from pipeline.atomic import atomic_write_json
from pipeline.config.run import RunConfig
from pipeline.redact import RedactingStream, register_config
from pipeline.runs.classify import OOM_PATTERNS
from pipeline.runs.cluster.ranks import die_with_launcher
from pipeline.runs.cpu import ThreadPlan, plan_threads
from pipeline.runs.emitter import Emitter
from pipeline.runs.events import EventWriter
from pipeline.runs.faults.disk import cleanup_partial, disk_full_reason, exc_path, is_disk_full
from pipeline.runs.layout import CHECKPOINTS_DIR, EVENTS_FILE, RESULT_FILE
from pipeline.runs.orphan import SupervisorWatch, parent_death_signal, record_end
from pipeline.runs.status import EndState
from pipeline.runs.store import load_run_config
from pipeline.runs.vocabulary import AlertLevel, EventType

DUPLICATE_SIGNAL_S = 2.0


class StageFailed(Exception):
    """Raised by a stage through ``ctx.fail``: the run ends with this state and reason."""

    def __init__(self, reason: str, state: EndState = "failed") -> None:
        super().__init__(reason)
        self.reason, self.state = reason, state


class StageContext(Emitter):
    """What a stage gets: its run folder and config, the resume flag, the stop request, events and alerts."""

    def __init__(self, run_dir: Path, cfg: RunConfig, resume: bool = False, attempt: int = 1) -> None:
        self.run_dir = Path(run_dir)
        self.cfg = cfg
        self.resume = resume
        self.attempt = attempt
        self.events = EventWriter(self.run_dir / EVENTS_FILE)
        self.stop_requested = threading.Event()
        self.checkpoints_dir = self.run_dir / CHECKPOINTS_DIR
        self.threads: ThreadPlan | None = None  # the worker's CPU threads (set in main)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def _emit(self, type: EventType, step: int | None, fields: dict[str, Any]) -> None:
        self.events._emit(type, step, fields)
        if self.threads is not None:
            self.threads.apply_pending()  # an adaptive count is set on the stage's own thread

    def alert(self, code: str, message: str, step: int | None = None, level: AlertLevel = "error") -> None:
        self.emit(EventType.ALERT, step, code=code, level=level, message=message)

    def fail(self, reason: str, state: EndState = "failed") -> NoReturn:
        raise StageFailed(reason, state)

    def log(self, message: str) -> None:
        print(message, flush=True)


def write_result(run_dir: Path, state: EndState, reason: str | None) -> None:
    atomic_write_json(run_dir / RESULT_FILE, {"state": state, "reason": reason, "pid": os.getpid()})


def _orphan_end(ctx: StageContext, watch: SupervisorWatch, code: int) -> None:
    """The supervisor died while we ran: record the end it cannot (a stop after a checkpoint, as a rule)."""
    from pipeline.atomic import read_json_object

    result = read_json_object(ctx.run_dir / RESULT_FILE) or {}
    dead = f"its supervisor (pid {watch.pid}) died"
    state: EndState
    if result.get("state") in ("failed", "oom"):
        state, reason = result["state"], f"{result.get('reason')} ({dead} meanwhile)"
    elif code == 0 and ctx.stop_requested.is_set():
        state, reason = "stopped", f"{dead}; the worker stopped after saving a checkpoint (aba resume continues)"
    elif code == 0:
        state, reason = "succeeded", f"succeeded ({dead} meanwhile)"
    else:
        state, reason = "failed", f"{dead}; the worker then failed (exit code {code}; see stderr.log)"
    record_end(ctx.run_dir, state, reason, code)
    try:
        with EventWriter(ctx.run_dir / EVENTS_FILE) as events:
            events.emit(EventType.STATUS, state=state, reason=reason, exit_code=code)
    except OSError:
        pass


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return any(p.search(str(exc)) for p in OOM_PATTERNS[:2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.runs.worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--attempt", type=int, default=1)
    args = parser.parse_args(argv)
    parent_death_signal(signal.SIGTERM)  # the supervisor's death reaches us as a stop request
    # Tracebacks, prints and warnings reach stdout.log/stderr.log with every credential masked.
    sys.stdout, sys.stderr = cast(TextIO, RedactingStream(sys.stdout)), cast(TextIO, RedactingStream(sys.stderr))

    cfg = load_run_config(args.run_dir)
    register_config(cfg)
    ctx = StageContext(args.run_dir, cfg, resume=args.resume, attempt=args.attempt)
    # Under accelerate, only rank 0 writes events and checkpoints' metadata.
    rank = int(os.environ.get("RANK", "0"))

    first: list[float] = []

    def on_term(signum: int, _frame: object) -> None:
        if ctx.stop_requested.is_set():
            # One stop often arrives twice at once (scancel signals every process of the job and the
            # supervisor forwards it; torch's elastic agent forwards it to the ranks too): that is
            # still the first request. A later one means: leave now, without the checkpoint.
            if time.monotonic() - first[0] < DUPLICATE_SIGNAL_S:
                return
            raise KeyboardInterrupt
        first.append(time.monotonic())
        ctx.stop_requested.set()
        print(f"worker: received {signal.Signals(signum).name}; stopping after a checkpoint", flush=True)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if "LOCAL_RANK" in os.environ:  # a rank under accelerate/torchrun: go when the launcher goes
        die_with_launcher()
    sup = cfg.sections.get("supervisor")
    grace = float(getattr(sup, "grace_seconds", 30.0))

    def supervisor_gone() -> None:
        print(f"worker: its supervisor (pid {watch.pid}) is gone; stopping after a checkpoint", flush=True)
        if not ctx.stop_requested.is_set():
            first.append(time.monotonic())
            ctx.stop_requested.set()
        # No supervisor will SIGKILL us after the grace period: do it ourselves.
        timer = threading.Timer(grace, _give_up, args=(ctx, watch, grace))
        timer.daemon = True
        timer.start()

    watch = SupervisorWatch(supervisor_gone)
    watch.start()
    code = _run_stage(args, ctx, cfg, rank)
    # The parent-death SIGTERM often ends a quick stage before the watch's next look: look once more.
    if watch.check() and rank == 0:
        _orphan_end(ctx, watch, code)
    return code


def _give_up(ctx: StageContext, watch: SupervisorWatch, grace: float) -> None:
    """The grace period after the supervisor's death is over and the stage has not returned."""
    record_end(ctx.run_dir, "failed", f"its supervisor (pid {watch.pid}) died and the worker did not stop within "
               f"the grace period ({grace:g} s); killed", None)
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)  # the worker's own children go with it
    finally:
        os._exit(1)


def _run_stage(args: argparse.Namespace, ctx: StageContext, cfg: RunConfig, rank: int) -> int:
    try:
        (args.run_dir / RESULT_FILE).unlink()
    except FileNotFoundError:
        pass
    ctx.threads = plan_threads(cfg.sections.get("supervisor"))
    ctx.threads.start()  # before the stage imports torch; says how many and why
    try:
        stage = importlib.import_module(registry.get(cfg.stage).worker_module)
        stage.run(ctx)
    except StageFailed as exc:
        if rank == 0:
            write_result(args.run_dir, exc.state, exc.reason)
            ctx.alert("stage_failed", exc.reason)
        print(f"worker: {exc.state}: {exc.reason}", file=sys.stderr, flush=True)
        return 3
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            raise
        try:
            traceback.print_exc()
        except OSError:
            pass  # stderr.log sits on the same disk: a full disk must not cut the handling short
        if rank == 0 and is_disk_full(exc):
            # Say where and how much was free, then give the space back: a half-written checkpoint is none.
            line = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else ''}"
            reason = disk_full_reason(args.run_dir, line, exc_path(exc))
            removed = cleanup_partial(args.run_dir)
            try:
                write_result(args.run_dir, "failed", reason + (f"; removed half-written {', '.join(removed)}"
                                                               if removed else ""))
            except OSError:
                pass  # still no room: the supervisor tells a disk-full end by the free space

        elif rank == 0 and _is_oom(exc):
            write_result(args.run_dir, "oom", f"{type(exc).__name__}: {str(exc)[:300]}")
        return 1
    finally:
        ctx.events.close()
    if ctx.stop_requested.is_set() and rank == 0:
        write_result(args.run_dir, "stopped", "stopped on request after saving a checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
