"""Resource faults end with the truth: a full disk, a hung worker, a runs dir that misbehaves.

The disk tests mount a real, small tmpfs as the runs dir (root only; skipped with the reason where the
sandbox refuses the mount), and the runs go through the real supervisor and worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.errors import ConfigError
from pipeline.runs.faults.diskplan import EMBEDDED_SHAPE, check_disk, estimate, model_config
from pipeline.runs.launcher import launch, resume, stop, wait_for
from pipeline.runs.layout import RESERVE_FILE
from pipeline.runs.procinfo import alive
from pipeline.runs.status import TERMINAL, read_status, read_status_raw
from pipeline.runs.store import RunStore
from tests.support.cli import aba

ENDED = set(TERMINAL) | {"lost"}
MiB = 1 << 20


def _mount(target: Path, size_mb: int) -> str | None:
    """Mount a tmpfs; None when done, else the reason it cannot be."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root (euid is not 0)"
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(target)],
                          capture_output=True, text=True)
    return None if proc.returncode == 0 else f"mount -t tmpfs refused: {proc.stderr.strip() or proc.returncode}"


def _kill_runs(store: RunStore) -> None:
    for info in store.list_runs():
        try:
            st = read_status_raw(info.path)
        except (OSError, ValueError):
            continue
        for pid, group in ((st.pid, True), (st.supervisor_pid, False)):
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL) if group else os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[tuple[Path, RunStore]]:
    """A 6 MiB tmpfs and a RunStore on it; the test may remount it larger."""
    mnt = tmp_path / "mnt"
    why = _mount(mnt, 6)
    if why:
        pytest.skip(why)
    store = RunStore(mnt / "runs")
    try:
        yield mnt, store
    finally:
        _kill_runs(store)
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def events(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run_dir / "events.jsonl").read_text().splitlines() if ln.strip()]


def wait_until(cond, timeout: float = 60.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def selftest(store: RunStore, *sets: str) -> tuple[str, Path]:
    return launch(store, build_config("selftest", [], ["selftest.step_seconds=0.01", *sets]))


def fill(mnt: Path, leave: int = 0) -> Path:
    """Fill the filesystem until ``leave`` bytes are free (0: until the kernel refuses)."""
    filler = mnt / "filler"
    with open(filler, "ab") as fh:
        while True:
            st = os.statvfs(mnt)
            room = st.f_bavail * st.f_frsize - leave
            if room <= 0:
                break
            try:
                fh.write(b"\0" * min(room, 256 << 10))
                fh.flush()
            except OSError:
                break
    return filler


def test_worker_disk_full_ends_failed_with_path_and_free_space_and_no_staging(small_fs) -> None:  # type: ignore[no-untyped-def]
    mnt, store = small_fs
    rid, path = selftest(store, "selftest.behaviour=fill_disk", "selftest.steps=3")
    assert wait_for(store, rid, ENDED, timeout=60) == "failed"
    st = read_status(path)
    assert st.reason.startswith("disk full while writing"), st.reason
    assert "free of" in st.reason and str(mnt) in st.reason and ".trainer" in st.reason
    assert "removed half-written .trainer" in st.reason
    assert not (path / ".trainer").exists() and not (path / RESERVE_FILE).exists()
    wait_until(lambda: not alive(st.supervisor_pid, st.supervisor_start), 20, "the supervisor to exit")
    assert "Traceback" not in (path / "supervisor.log").read_text()
    assert events(path)[-1]["type"] == "status" and events(path)[-1]["state"] == "failed"


def test_supervisor_records_the_end_on_a_full_disk(small_fs) -> None:  # type: ignore[no-untyped-def]
    mnt, store = small_fs
    rid, path = selftest(store, "selftest.behaviour=sleep", "selftest.steps=3", "supervisor.grace_seconds=5")
    wait_until(lambda: read_status_raw(path).pid is not None and (path / RESERVE_FILE).exists(), 30, "the worker")
    fill(mnt)  # not a byte left: an atomic status write (a new temp file) is refused now
    with pytest.raises(OSError):
        (path / "probe").write_bytes(b"x" * 8192)
    stop(store, rid)
    assert wait_for(store, rid, ENDED, timeout=30) == "stopped"  # never "lost"
    st = read_status(path)
    wait_until(lambda: not alive(st.supervisor_pid, st.supervisor_start), 20, "the supervisor to exit")
    assert read_status(path).state == "stopped" and st.ended_at is not None
    assert "released .reserve" in (path / "supervisor.log").read_text()  # how it found the room


def test_low_disk_alert_while_live_then_preflight_refusal(small_fs) -> None:  # type: ignore[no-untyped-def]
    mnt, store = small_fs
    rid, path = selftest(store, "selftest.behaviour=sleep", "supervisor.disk_low_mb=3")
    wait_until(lambda: (path / "events.jsonl").exists() and any(e["type"] == "metrics" for e in events(path)),
               30, "the first step")
    assert not [e for e in events(path) if e.get("code") == "disk_low"]  # ~4.8 MiB free: above the line
    fill(mnt, leave=2 * MiB)
    wait_until(lambda: any(e.get("code") == "disk_low" for e in events(path)), 30, "the disk_low alert")
    alert = next(e for e in events(path) if e.get("code") == "disk_low")
    assert alert["level"] == "warning" and "free of" in alert["message"] and "disk_low_mb = 3" in alert["message"]
    stop(store, rid)
    assert wait_for(store, rid, ENDED, timeout=30) == "stopped"

    # The same small filesystem refuses a DPO run before any folder exists; --force is the way past.
    before = sorted(store.run_ids())
    proc = aba("run", "dpo", "--set", "dpo.max_steps=4", runs_dir=store.root)
    assert proc.returncode == 2, proc.stderr
    assert "free of" in proc.stderr and "will write about" in proc.stderr and "--force" in proc.stderr
    assert sorted(store.run_ids()) == before
    cfg = build_config("dpo", [], ["dpo.max_steps=4"])
    with pytest.raises(ConfigError, match="checkpoint"):
        check_disk(cfg, store.root)
    cfg.sections["supervisor"].disk_check = False
    assert check_disk(cfg, store.root) is None


def test_estimate_counts_checkpoints_rotation_and_export() -> None:
    one = estimate(build_config("dpo", [], ["dpo.max_steps=10", "dpo.save_steps=5", "model.lora_r=4"]))
    assert one is not None and "2 checkpoints" in one.parts[0]  # steps 5 and 10 (the final save is step 10's)
    kept = estimate(build_config("dpo", [], ["dpo.max_steps=10", "dpo.save_steps=1", "dpo.keep_checkpoints=2",
                                             "model.lora_r=4"]))
    assert kept is not None and "3 checkpoints" in kept.parts[0]  # two kept + the one being written
    full = estimate(build_config("dpo", [], ["dpo.max_steps=10", "dpo.save_steps=5", "model.lora_r=0"]))
    assert full is not None and full.total > 20 * one.total  # full weights + AdamW states dwarf an adapter
    chain = build_config(None, [Path("pipeline/presets/demo.toml")])
    est = estimate(chain)
    assert est is not None and any("q8_0 GGUF" in p for p in est.parts)


def test_the_disk_plan_knows_the_embedded_models_shape_as_the_built_folder_states_it() -> None:
    """diskplan keeps the embedded model's config.json as data (it sits below pipeline.models): it must be
    the config of the HF folder that model resolution builds."""
    from pipeline.models.resolve import resolve_model

    built = json.loads((Path(resolve_model("embedded")) / "config.json").read_text())
    assert {k: built.get(k) for k in EMBEDDED_SHAPE} == EMBEDDED_SHAPE
    assert model_config("embedded") == EMBEDDED_SHAPE


def test_sigstopped_worker_ends_failed_stalled_and_is_killed(store: RunStore) -> None:
    rid, path = selftest(store, "selftest.behaviour=sleep", "supervisor.stall_timeout=1.5",
                         "supervisor.grace_seconds=1")
    wait_until(lambda: (path / "events.jsonl").exists() and any(e["type"] == "metrics" for e in events(path)),
               30, "the first step")
    pid = read_status_raw(path).pid
    assert pid
    os.killpg(pid, signal.SIGSTOP)
    assert wait_for(store, rid, ENDED, timeout=60) == "failed"
    st = read_status(path)
    assert st.reason.startswith("stalled for") and "no CPU" in st.reason, st.reason
    assert not alive(pid)  # the process (and what it held) is gone
    codes = [e.get("code") for e in events(path) if e["type"] == "alert"]
    assert "stall_timeout" in codes and "stalled" in codes
    warn = next(e for e in events(path) if e.get("code") == "stall_timeout")
    assert "SIGTERM" in warn["message"] and "stalled" in warn["message"]


def test_stall_timeout_off_by_default_leaves_a_quiet_worker_alone(store: RunStore) -> None:
    cfg = build_config("selftest", [], [])
    assert cfg.sections["supervisor"].stall_timeout == 0


@pytest.mark.slow
def test_dpo_on_a_full_tmpfs_fails_disk_full_then_resumes_after_growing(small_fs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mnt, store = small_fs
    subprocess.run(["mount", "-o", "remount,size=12m", str(mnt)], check=True)  # < one 23 MiB checkpoint
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in (
        {"prompt": "What is 2+2?", "chosen": "4.", "rejected": "Maybe 5."},
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "I am not sure."})))
    cfg = build_config("dpo", [], [f"dpo.data={pairs}", "dpo.max_steps=1", "dpo.max_length=48",
                                   "dpo.warmup_steps=0", "model.lora_r=4", "model.lora_alpha=8"])
    with pytest.raises(ConfigError, match="will write about"):
        launch(store, cfg)
    rid, path = launch(store, cfg, force=True)
    assert wait_for(store, rid, ENDED, timeout=900) == "failed", (path / "stderr.log").read_text()[-2000:]
    st = read_status(path)
    assert st.reason.startswith("disk full while writing"), st.reason
    assert "free of" in st.reason and str(mnt) in st.reason
    assert not (path / ".trainer").exists()
    assert not [p for p in (path / "checkpoints").iterdir()] if (path / "checkpoints").exists() else True
    wait_until(lambda: not alive(st.supervisor_pid, st.supervisor_start), 20, "the supervisor to exit")
    assert "Traceback" not in (path / "supervisor.log").read_text()

    subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
    resume(store, rid)
    assert wait_for(store, rid, ENDED, timeout=900) == "succeeded", (path / "stderr.log").read_text()[-2000:]
    final = path / "checkpoints" / "final"
    assert (final / "metadata.json").exists()
    est = estimate(cfg, rows=2)
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    assert est is not None and 0.8 * size <= est.total <= 1.5 * size, (est.parts, size)


def test_runs_dir_turning_read_only_is_reported_and_the_run_ends_true_once_writable(small_fs) -> None:  # type: ignore[no-untyped-def]
    _mnt, store = small_fs
    rid, path = selftest(store, "selftest.behaviour=sleep", "supervisor.grace_seconds=5")
    wait_until(lambda: (path / "events.jsonl").exists() and any(e["type"] == "metrics" for e in events(path)),
               30, "the first step")
    # The runs dir turns read-only under live processes (a tmpfs with files open for writing refuses
    # "remount,ro", so a read-only bind mount of the runs dir over itself; their open descriptors stay).
    subprocess.run(["mount", "--bind", str(store.root), str(store.root)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(store.root)], check=True)
    try:
        proc = aba("ps", runs_dir=store.root)
        assert proc.returncode == 0 and "read-only filesystem" in proc.stderr and rid in proc.stdout
        stop(store, rid)  # the worker's checkpoint and the supervisor's status cannot be written now
        assert read_status(path).state == "running"  # the supervisor keeps its record and retries
    finally:
        subprocess.run(["umount", "-l", str(store.root)], check=True)
    state = wait_for(store, rid, ENDED, timeout=60)
    assert state in ("stopped", "failed"), state
    assert read_status(path).state == state  # recorded by the live supervisor, not guessed as lost


def test_status_of_another_user_reads_as_unreadable_not_a_crash(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    import tempfile

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="aba-perm-"))
    try:
        os.chmod(root, 0o755)
        store = RunStore(root / "runs")
        rid, path = store.create_run(build_config("selftest", [], []))
        os.chmod(root / "runs", 0o755)
        os.chmod(path, 0o755)
        os.chmod(path / "status.json", 0o600)
        rfd, wfd = os.pipe()
        child = os.fork()
        if child == 0:  # as nobody: the same code a second user's `aba ps` runs
            code = 1
            try:
                os.close(rfd)
                # The interpreter's own files are root's (0700 home): load every module `ps` needs first.
                import pipeline.runs.faults.runs_dir  # noqa: F401
                from aba_tui.cli import main

                with open(os.devnull, "w") as sink:
                    sys.stdout = sink
                    main(["ps", "--json", "--runs-dir", str(root / "runs")])
                os.setgid(65534)
                os.setuid(65534)

                with os.fdopen(wfd, "w") as out:
                    sys.stdout = out
                    try:
                        code = main(["ps", "--json", "--runs-dir", str(root / "runs")])
                    except BaseException:
                        import traceback

                        traceback.print_exc(file=out)
            finally:
                os._exit(code)
        os.close(wfd)
        with os.fdopen(rfd) as fh:
            out = fh.read()
        _pid, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, out
        row = json.loads(out)[0]
        assert row["run_id"] == rid and row["state"] == "unreadable"
        assert "permission denied" in row["reason"] and "root (uid 0)" in row["reason"] and "600" in row["reason"]
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_run_folder_deleted_under_its_supervisor_stops_the_worker(store: RunStore) -> None:
    import shutil

    rid, path = selftest(store, "selftest.behaviour=sleep", "supervisor.grace_seconds=1")
    wait_until(lambda: read_status_raw(path).pid is not None, 30, "the worker")
    st = read_status_raw(path)
    wait_until(lambda: st.supervisor_pid is not None, 5)
    shutil.rmtree(path)
    wait_until(lambda: not alive(st.pid) and not alive(st.supervisor_pid, st.supervisor_start), 30,
               "the worker and the supervisor to leave")
    proc = aba("ps", runs_dir=store.root)
    assert proc.returncode == 0 and rid not in proc.stdout


@pytest.mark.parametrize("tail", [
    "OSError: [Errno 28] No space left on device: '/runs/x/.trainer/checkpoint-5/optimizer.pt'",
    "RuntimeError: [enforce fail at inline_container.cc:626] . unexpected pos 9600 vs 9488",
    "RuntimeError: PytorchStreamWriter failed writing file data/3: file write failed",
    "safetensors_rust.SafetensorError: Error while serializing: IoError(Os { code: 28, kind: StorageFull })",
])
def test_disk_full_is_classified_before_oom_and_named(tail: str) -> None:
    from pipeline.runs.classify import classify

    out = classify(1, f"Traceback (most recent call last):\n  ...\n{tail}\nCUDA out of memory? no\n", False)
    assert out.state == "failed" and out.reason.startswith("disk full: ") and tail[:20] in out.reason


def test_disk_low_and_readonly_alert_rules_and_the_telemetry_sample(tmp_path: Path) -> None:
    from pipeline.monitor.alerts import disk_low
    from pipeline.monitor.telemetry import Telemetry

    assert disk_low("/mnt", 500 * MiB, 10 * 2**30, 1024, []) is None  # nothing live: nothing at stake
    assert disk_low("/mnt", 2000 * MiB, 10 * 2**30, 1024, ["r1"]) is None
    low = disk_low("/mnt", 500 * MiB, 10 * 2**30, 1024, ["r1"])
    assert low is not None and low.code == "disk_low" and "500 MiB free" in low.message
    ro = disk_low("/mnt", 500 * MiB, 10 * 2**30, 0, ["r1"], readonly=True)
    assert ro is not None and ro.code == "disk_readonly" and ro.level == "error"

    class NoGpu:
        def start(self) -> str:
            return "no driver"

    snap = Telemetry(NoGpu(), disk_path=tmp_path / "runs").sample()  # type: ignore[arg-type]
    st = os.statvfs(tmp_path)
    assert snap.disk_total == st.f_blocks * st.f_frsize and snap.disk_free is not None and not snap.disk_readonly


def test_the_ui_model_shows_a_deleted_live_run_folder_as_an_alert(tmp_path: Path) -> None:
    import shutil

    from pipeline.monitor.runs_model import RunsModel
    from pipeline.runs.procinfo import start_ticks
    from pipeline.runs.status import write_status

    store = RunStore(tmp_path / "runs")
    rid, path = store.create_run(build_config("selftest", [], []))
    st = read_status_raw(path)
    st.state, st.supervisor_pid, st.supervisor_start = "running", os.getpid(), start_ticks(os.getpid())
    write_status(path, st)
    model = RunsModel(store, scan_s=0.0)
    model.poll_once()
    assert [r.state for r in model.rows()] == ["running"]
    shutil.rmtree(path)
    model.poll_once()
    assert model.rows() == []
    gone = [a for a in model.book.active.values() if a.code == "run_removed"]
    assert gone and rid in gone[0].message and "deleted while it was running" in gone[0].message


def test_status_rewritten_in_place_on_a_full_disk_then_atomically_once_space_returns(small_fs) -> None:  # type: ignore[no-untyped-def]
    from pipeline.runs.faults.durable import DurableStatus

    mnt, store = small_fs
    _rid, path = store.create_run(build_config("selftest", [], []))
    filler = fill(mnt)
    durable = DurableStatus(path)  # no reserve held: the in-place rewrite is what is left
    st = read_status_raw(path)
    st.state, st.reason = "failed", "disk full while writing somewhere"
    assert durable.write(st) and durable.pending is not None  # on disk, the atomic version still owed
    assert read_status_raw(path).reason == "disk full while writing somewhere"
    filler.unlink()
    assert durable.retry(every=0.0) and durable.pending is None
    assert read_status_raw(path).state == "failed" and not list(path.glob(".status.json.*"))
