"""The supervisor: ``python -m pipeline.runs.supervisor RUN_DIR [--resume]``, one per run.

It detaches (double fork, own session) so it outlives the launching shell, the TUI and an SSH
disconnect; starts the worker in a process group of its own; records pid, exit code and signal;
classifies the end; retries an OOM by policy; and starts the next stage of a chain. It imports no
ML library: a worker that dies of OOM cannot take it down.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline import registry
from pipeline.atomic import atomic_write_text
from pipeline.config.paths import RUN_DIR_ENV
from pipeline.config.run import RunConfig, chain_child
from pipeline.errors import AbaError
from pipeline.redact import register_config
from pipeline.runs import lock, trust
from pipeline.runs.classify import classify, oom_kill_count, read_tail
from pipeline.runs.cluster import deps, jobside, ranks
from pipeline.runs.emitter import Emitter
from pipeline.runs.events import EventWriter, Tail
from pipeline.runs.faults.durable import DurableStatus, RunFolderGone, note
from pipeline.runs.layout import EVENTS_FILE, RESULT_FILE, RUN_TOML, STDERR_LOG, STDOUT_LOG, STOP_FILE
from pipeline.runs.notify import Notice, Notifier
from pipeline.runs.orphan import SUPERVISOR_ENV, supervisor_identity
from pipeline.runs.peaks import PeakWatch
from pipeline.runs.procinfo import start_ticks
from pipeline.runs.status import Status, read_status_raw
from pipeline.runs.store import load_run_config
from pipeline.runs.vocabulary import EventType
from pipeline.runs.watch import AttemptWatch
from pipeline.safeio import open_append

END_RETRY_S = 600.0  # how long the final status write is retried on a disk that refuses it


def worker_command(cfg: RunConfig, run_dir: Path, resume: bool, attempt: int) -> list[str]:
    """The worker's argv: plain python, or `accelerate launch` when the run asks for several GPUs."""
    # -P: the working directory is not put on sys.path (a run folder or a cwd cannot shadow our modules).
    tail = ["-P", "-m", "pipeline.runs.worker", str(run_dir), "--attempt", str(attempt)]
    tail += ["--resume"] if resume else []
    sup = cfg.sections["supervisor"]
    multinode = jobside.multinode_command(cfg, tail[3:]) if jobside.is_slurm(cfg) else None
    if multinode:
        return multinode
    if sup.gpus > 1:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(sup.gpus)]
        if sup.accelerate_config:
            cmd += ["--config_file", sup.accelerate_config]
        else:
            cmd += ["--multi_gpu"]
        # accelerate launches a module with -m before the module name.
        return [*cmd, "-m", "pipeline.runs.worker", *tail[3:]]
    return [sys.executable, *tail]


def halve_for_retry(cfg: RunConfig) -> str | None:
    """Halve the stage's memory knobs in place; None when nothing can shrink further."""
    section = cfg.stage_section
    stage = registry.get(cfg.stage)
    changed = []
    for key in stage.oom_halve:
        old = getattr(section, key)
        floor = stage.floors.get(key, 1)
        if old // 2 >= floor:
            setattr(section, key, old // 2)
            changed.append(f"{cfg.stage}.{key} {old}→{old // 2}")
            double = stage.oom_double
            if double and key == "batch_size":
                setattr(section, double, getattr(section, double) * 2)
                changed.append(f"{cfg.stage}.{double} ×2")
    return ", ".join(changed) or None


class Supervisor(Emitter):
    def __init__(self, run_dir: Path, resume: bool, lock_fd: int | None = None) -> None:
        self.run_dir = run_dir
        self.resume = resume
        self.lock_fd = lock_fd  # the run's lock, inherited by the worker: held while either lives
        self.cfg = load_run_config(run_dir)
        register_config(self.cfg)
        self.status = read_status_raw(run_dir)
        self.link: Path | None = None  # the old path of a run folder renamed while live, pointing to the new
        self.proc: subprocess.Popen[bytes] | None = None
        self.stop_requested = False
        self.slurm_signal = False  # the stop came from Slurm (time limit, preemption), not `aba stop`
        self.kill_at: float | None = None
        self.events = EventWriter(run_dir / EVENTS_FILE)
        self.notifier = Notifier.for_run_dir(run_dir, self.cfg.sections.get("supervisor"))
        # Error alerts the stage writes are announced as they come (the UI may be closed).
        self.alerts = Tail(run_dir / EVENTS_FILE, offset=(run_dir / EVENTS_FILE).stat().st_size)
        self.durable = DurableStatus(run_dir)  # status writes that survive a full or read-only disk
        self.watch = AttemptWatch(run_dir, self.cfg.sections["supervisor"], self, self._signal_worker,
                                  self._moved)
        self.peaks = PeakWatch(lambda fields: self.emit(EventType.RESOURCES, **fields))  # peak RAM/CPU/VRAM

    def write(self, st: Status) -> None:
        self.durable.write(st)

    def _emit(self, type: EventType, step: int | None, fields: dict[str, Any]) -> None:
        try:
            self.events._emit(type, step, fields)
        except OSError as exc:  # a full disk loses the event, not the supervisor
            note(f"event {type} not written ({exc.strerror})")

    # -- signals -------------------------------------------------------------------------------
    def on_stop(self, signum: int, _frame: object) -> None:
        if not self.stop_requested:
            self.stop_requested = True
            self.slurm_signal = jobside.is_slurm(self.cfg) and not (self.run_dir / STOP_FILE).exists()
            grace = self.cfg.sections["supervisor"].grace_seconds
            try:
                grace = float(json.loads((self.run_dir / STOP_FILE).read_text())["grace_seconds"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
            self.kill_at = time.time() + grace
            self.status.stop_requested = True
            self.write(self.status)
        self._signal_worker(signal.SIGTERM)

    def _signal_worker(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def _moved(self, new: Path) -> None:
        """The run folder was renamed while live: follow it. The worker goes on through a link at the old
        path (its paths are absolute); status, events and the id follow the new name."""
        old = self.run_dir
        try:
            os.symlink(new, old)
            self.link = old
        except OSError as exc:  # the old name is taken again: the worker would write into another folder
            note(f"{old} moved to {new} and its old path cannot point there ({exc.strerror}): worker killed")
            self._signal_worker(signal.SIGKILL)
        self.run_dir = new
        self.durable.moved(new)
        self.watch.moved(new)
        self.alerts.path = new / EVENTS_FILE
        self.notifier.run_dir = new
        self.status.run_id = new.name
        self.write(self.status)
        self.emit(EventType.ALERT, code="run_moved", level="warning",
                  message=f"run folder moved from {old} to {new} while live; followed (run id now {new.name})")

    def _unlink_old_path(self) -> None:
        if self.link is not None and self.link.is_symlink() and Path(os.readlink(self.link)) == self.run_dir:
            try:
                self.link.unlink()
            except OSError:
                pass

    # -- one attempt ---------------------------------------------------------------------------
    def run_attempt(self, resume: bool) -> tuple[int, str, dict | None, bool]:
        st = self.status
        try:
            (self.run_dir / RESULT_FILE).unlink()
        except FileNotFoundError:
            pass
        err_path = self.run_dir / STDERR_LOG
        err_start = err_path.stat().st_size if err_path.exists() else 0
        oom_before = oom_kill_count()
        cmd = worker_command(self.cfg, self.run_dir, resume, st.attempt)
        env = {**os.environ, **ranks.LAUNCHER_ENV, RUN_DIR_ENV: str(self.run_dir), "PYTHONUNBUFFERED": "1",
               SUPERVISOR_ENV: supervisor_identity()}
        out, err = open_append(self.run_dir / STDOUT_LOG), open_append(err_path)  # 0600: they hold errors
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                         start_new_session=True,
                                         pass_fds=() if self.lock_fd is None else (self.lock_fd,))
        finally:
            os.close(out)
            os.close(err)
        st.pid, st.pid_start, st.state = self.proc.pid, start_ticks(self.proc.pid), "running"
        self.write(st)
        self.watch.begin()
        self.peaks.begin(self.proc.pid, st.attempt)
        if self.stop_requested:  # a stop that came while we were starting
            self._signal_worker(signal.SIGTERM)
        while True:
            try:
                rc = self.proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                self.announce_alerts()
                if self.kill_at is not None and time.time() >= self.kill_at:
                    self._signal_worker(signal.SIGKILL)
                    self.kill_at = None
                self.watch.tick(self.proc.pid)  # stall timeout, low disk, run folder deleted
                self.peaks.tick()
                self.durable.retry()
        self.peaks.end()
        # Children of the worker (dataloader workers, accelerate ranks) go with it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        result = None
        try:
            result = json.loads((self.run_dir / RESULT_FILE).read_text())
        except (OSError, ValueError):
            pass
        self.announce_alerts()
        oom_after = oom_kill_count()
        oom_killed = oom_before is not None and oom_after is not None and oom_after > oom_before
        return rc, read_tail(err_path, err_start), result, oom_killed

    def run(self) -> int:
        st = self.status
        st.supervisor_pid, st.supervisor_start = os.getpid(), start_ticks(os.getpid())
        st.started_at = st.started_at if self.resume and st.started_at else time.time()
        st.state, st.ended_at, st.exit_code, st.signal, st.reason = "queued", None, None, None, None
        st.stop_requested = False
        if jobside.is_slurm(self.cfg):
            jobside.record_job(st)
        if self.cfg.after and not self.wait_for_dependencies():
            return self.exit_code()
        st.state = "running"
        self.durable.reserve.hold()
        self.write(st)
        self.emit(EventType.STATUS, state="running", attempt=st.attempt)
        resume = self.resume
        sup = self.cfg.sections["supervisor"]
        while True:
            rc, err_tail, result, oom_killed = self.run_attempt(resume)
            out = self.watch.refine(classify(rc, err_tail, self.stop_requested, result, oom_killed), err_tail)
            st.exit_code, st.signal, st.reason, st.state = out.exit_code, out.signal, out.reason, out.state
            if out.state == "oom" and sup.oom_retry == "halve" and st.attempt < sup.max_attempts:
                change = halve_for_retry(self.cfg)
                if change:
                    atomic_write_text(self.run_dir / RUN_TOML, self.cfg.to_toml())
                    self.emit(EventType.ATTEMPT, attempt=st.attempt + 1, reason=out.reason, change=change)
                    st.attempt += 1
                    # Never publish the attempt's "oom": readers would take the run for ended.
                    st.state, st.pid, st.pid_start = "running", None, None
                    st.reason = f"retrying after OOM: {change}"
                    self.write(st)
                    resume = True  # continue from the last complete checkpoint, if any
                    continue
            break
        if self.slurm_signal and st.state == "stopped" and jobside.after_slurm_signal(self.cfg, st):
            st.pid = st.pid_start = None
            self.write(st)
            self.emit(EventType.STATUS, state=st.state, reason=st.reason)
            jobside.requeue(st)  # Slurm ends this job now and runs the script again, with --resume
            return 0
        if st.state == "succeeded":
            self.start_next()  # before the final status, so a reader that sees "succeeded" sees the child too
        self._unlink_old_path()
        st.ended_at, st.pid, st.pid_start = time.time(), None, None
        self.durable.reserve.release()
        if not self.durable.write(st):
            self.durable.flush(END_RETRY_S)  # a read-only or failing disk: wait for it rather than die
        self.emit(EventType.STATUS, state=st.state, reason=st.reason, exit_code=st.exit_code, signal=st.signal)
        self.announce_end()
        return self.exit_code()

    def exit_code(self) -> int:
        """Under Slurm the job's exit code tells the run's end (afterok, sacct); a local run always exits 0."""
        return 0 if self.status.state in ("succeeded", "queued") or not jobside.is_slurm(self.cfg) else 1

    def announce_alerts(self) -> None:
        for ev in self.alerts.poll():
            # stage_failed restates the run's end, which is announced once the end is classified.
            if ev.get("type") == EventType.ALERT and ev.get("level") == "error" and ev.get("code") != "stage_failed":
                self.notifier.send(Notice(self.status.run_id, "alert", str(ev.get("message") or ""),
                                          stage=self.status.stage, code=str(ev.get("code") or "alert"),
                                          host=self.status.host))

    def announce_end(self) -> None:
        """After the final status is written: a slow or failing endpoint cannot change the run's end."""
        st = self.status
        self.notifier.send(Notice(st.run_id, st.state, st.reason, stage=st.stage, host=st.host))
        self.notifier.wait(self.notifier.budget_s())

    def wait_for_dependencies(self) -> bool:
        """Queued until every ``after`` run succeeded; False when this run ended instead (written)."""
        st = self.status

        def waiting(msg: str) -> None:
            st.reason = msg
            self.write(st)

        failure = deps.wait(self.run_dir.parent, self.cfg.after, lambda: self.stop_requested, waiting)
        if failure is None and not self.stop_requested:
            st.reason = None
            return True
        st.state = "failed" if failure else "stopped"
        st.reason = failure or "stopped on request while waiting for " + ", ".join(self.cfg.after)
        st.ended_at = time.time()
        self.write(st)
        self.emit(EventType.STATUS, state=st.state, reason=st.reason)
        self.announce_end()
        return False

    def start_next(self) -> None:
        child = chain_child(self.cfg, self.status.run_id)
        if child is None:
            return
        from pipeline.runs.launcher import launch
        from pipeline.runs.store import RunStore

        try:
            run_id, _path = launch(RunStore(self.run_dir.parent), child)
            self.emit(EventType.CHAIN, next_run=run_id, next_stage=child.stage)
        except Exception as exc:  # the parent succeeded; record why the chain did not go on
            self.emit(EventType.ALERT, code="chain_failed", level="error", message=str(exc))


def _refused(run_dir: Path, reason: str) -> None:
    try:
        st = read_status_raw(run_dir)
        st.state, st.reason, st.ended_at = "failed", reason, time.time()
        DurableStatus(run_dir).write(st)
    except (OSError, ValueError, RunFolderGone):
        pass


def daemonize() -> None:
    """Double fork: the supervisor is re-parented to init and leads a session of its own."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.runs.supervisor")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--foreground", action="store_true", help="do not detach (tests, debugging)")
    parser.add_argument("--lock-fd", type=int, default=None,
                        help="the run's lock, already taken by `aba run`/`aba resume` (inherited)")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if not args.foreground:
        daemonize()
    lock_fd = args.lock_fd
    try:
        if lock_fd is None:  # started by hand or by a Slurm job: take the lock ourselves
            lock_fd = lock.acquire(run_dir)
    except AbaError as exc:  # another supervisor or worker has it: touch nothing
        note(str(exc))
        return 3
    try:
        trust.check_runnable(run_dir)
    except AbaError as exc:  # say why in the status rather than leave it queued until it reads lost
        note(str(exc))
        _refused(run_dir, str(exc))
        return 3
    sup = Supervisor(run_dir, args.resume, lock_fd)
    signal.signal(signal.SIGTERM, sup.on_stop)
    signal.signal(signal.SIGINT, sup.on_stop)
    try:
        return sup.run()
    except RunFolderGone:
        note(f"{run_dir} was deleted while the run was live; worker stopped, nothing left to record")
        sup._signal_worker(signal.SIGKILL)
        return 0
    except BaseException as exc:
        # Never leave a run "running" behind a dead supervisor if we can help it.
        sup._signal_worker(signal.SIGKILL)
        st = sup.status
        st.state, st.reason, st.ended_at = "failed", f"supervisor error: {exc!r}"[:500], time.time()
        try:
            sup.durable.reserve.release()
            sup.durable.write(st)
        except (OSError, RunFolderGone):
            pass
        sup.announce_end()
        raise


if __name__ == "__main__":
    sys.exit(main())
