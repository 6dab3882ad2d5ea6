"""A worker with no ML library: logs steps and misbehaves on request (supervisor fault injection)."""

from __future__ import annotations

import os
import time

from pipeline.checkpoints.store import checkpoint_name, write_metadata
from pipeline.runs.events import iter_events
from pipeline.runs.layout import STAGING
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext


def _last_step(ctx: StageContext) -> int:
    path = ctx.events.path
    last = 0
    if path.exists():
        for _off, ev in iter_events(path):
            if ev.get("type") == EventType.METRICS and isinstance(ev.get("step"), int):
                last = max(last, ev["step"])
    return last


def _checkpoint(ctx: StageContext, step: int, loss: float) -> None:
    path = ctx.checkpoints_dir / checkpoint_name(step)
    path.mkdir(parents=True, exist_ok=True)
    (path / "state.txt").write_text(f"{step}\n")
    write_metadata(path, {"step": step, "loss": loss, "resumable": True, "stage": "selftest"})
    ctx.emit(EventType.CHECKPOINT, step, name=path.name)


def _fill_disk(ctx: StageContext, step: int) -> None:
    """Save a checkpoint the way the HF Trainer does (into .trainer/) until the disk refuses a write."""
    folder = ctx.run_dir / STAGING / f"checkpoint-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    chunk = b"\1" * (256 << 10)
    with open(folder / "optimizer.pt", "wb") as fh:
        while True:  # a real disk-full death: ENOSPC from the kernel, raised by write or flush
            fh.write(chunk)
            fh.flush()


def run(ctx: StageContext) -> None:
    cfg = ctx.cfg.section("selftest")
    b = cfg.behaviour
    if b == "oom" and cfg.batch_size > cfg.oom_above_batch:
        raise MemoryError(f"simulated host OOM at batch_size={cfg.batch_size}")
    start = _last_step(ctx) if ctx.resume else 0
    ctx.emit(EventType.PROGRESS, start, total_steps=cfg.steps, batch_size=cfg.batch_size)
    for step in range(start + 1, cfg.steps + 1):
        if b == "cuda_oom" and step == 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        if b == "memory_error" and step == 2:
            raise MemoryError("simulated")
        if b == "crash" and step == 2:
            raise ValueError("simulated crash in the training loop")
        if b == "fill_disk" and step == 2:
            _fill_disk(ctx, step)
        loss = float("nan") if (b == "nan" and step >= 2) else 1.0 / step
        ctx.emit(EventType.METRICS, step, loss=loss, accuracy=min(1.0, step / max(cfg.steps, 1)), pid=os.getpid())
        if loss != loss:  # as the training guard does: an error alert, then the run fails
            ctx.alert("nan_loss", f"NaN loss at step {step}", step)
            ctx.fail(f"NaN loss at step {step}")
        time.sleep(cfg.step_seconds)
        if b in ("sleep", "ignore_stop"):
            # Long-running worker: wait here until stopped (tests then kill or stop it); ignore_stop: a
            # worker stuck in C code that never honours a stop.
            while b == "ignore_stop" or not ctx.stop_requested.is_set():
                time.sleep(0.05)
        if ctx.stop_requested.is_set():
            _checkpoint(ctx, step, loss)
            return
    _checkpoint(ctx, cfg.steps, 1.0 / max(cfg.steps, 1))
