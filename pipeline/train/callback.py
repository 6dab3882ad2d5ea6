"""One TrainerCallback for every stage: events, guards, checkpoints and stop requests.

- ``on_train_begin``: a progress event with the total steps (the denominator for step/total and ETA).
- ``on_log``: the step's metrics in the project's names (+ samples/s, tokens/s, ETA) to events.jsonl;
  the NaN/collapse guard; the test hook ``test_inject_nan_at``. Steps already in events.jsonl from an
  earlier attempt are not written again (a resumed run never duplicates a step).
- ``on_step_end``: asks the Trainer to save when a periodic checkpoint is due, at the last step
  (final), or when SIGTERM asked us to stop (then training ends after the save).
- ``on_save``: moves the Trainer's folder into checkpoints/ with metadata (CheckpointManager).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from pipeline.runs.cluster.ranks import agree, rank
from pipeline.runs.vocabulary import AlertLevel, EventType
from pipeline.runs.worker import StageContext
from pipeline.train.checkpointing import CheckpointManager, SavePlan, step_name
from pipeline.train.guards import Guard
from pipeline.train.metrics import Throughput, is_summary, map_logs


class StageCallback(TrainerCallback):
    def __init__(self, ctx: StageContext, section: Any, manager: CheckpointManager, guard: Guard,
                 samples_per_step: int, reward_dims: tuple[str, ...] = (), logged_until: int = 0) -> None:
        self.ctx = ctx
        self.section = section
        self.manager = manager
        self.guard = guard
        self.plan = SavePlan(section.checkpoint_every, section.save_steps)
        self.samples_per_step = samples_per_step
        self.reward_dims = reward_dims
        self.logged_until = logged_until  # highest step already in events.jsonl
        self.pending: tuple[str, str, bool] | None = None  # (name, kind, final) of the save asked for
        self.prev_epoch = 0.0
        self.throughput: Throughput | None = None
        self.stopped_by_request = False
        self.key = f"{ctx.cfg.stage}.nan_policy"

    @staticmethod
    def _main(state: Any) -> bool:
        return bool(getattr(state, "is_world_process_zero", True))

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.prev_epoch = float(state.epoch or 0.0)
        self.throughput = Throughput(self.samples_per_step, state.max_steps, start_step=state.global_step)
        if self._main(state):
            epochs = getattr(state, "num_train_epochs", None) or args.num_train_epochs
            self.ctx.emit(EventType.PROGRESS, state.global_step, total_steps=state.max_steps, epochs=epochs,
                          batch_size=args.per_device_train_batch_size, grad_accum=args.gradient_accumulation_steps,
                          samples_per_step=self.samples_per_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        step, epoch = state.global_step, float(state.epoch or 0.0)
        periodic = self.plan.due(self.prev_epoch, epoch, step)
        self.prev_epoch = epoch
        final = step >= state.max_steps
        # Under DDP every rank must leave after the same step (and save together): decided as one.
        (stop,) = agree(self.ctx.stop_requested.is_set())
        if stop:
            if not self.stopped_by_request:
                print(f"worker rank {rank()}: stopping after optimizer step {step}", flush=True)
            self.stopped_by_request = True
            control.should_training_stop = True
        if periodic or final or (stop and self.manager.last_saved_step != step):
            kind = "periodic" if periodic else ("final" if final else "stop")
            name = periodic or ("final" if final else step_name(step))
            self.pending = (name, kind, final)
            control.should_save = True
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kw: Any) -> Any:
        if not logs or is_summary(logs):
            return control
        step = state.global_step
        if self.section.test_inject_nan_at and step == self.section.test_inject_nan_at:
            logs = {**logs, "loss": float("nan")}  # test hook: what a diverged run logs
        metrics = map_logs(logs, self.reward_dims)
        if self.throughput is not None:
            metrics.update(self.throughput.update(step, logs.get("num_tokens")))
        self.manager.observe(metrics)
        main = self._main(state)
        if main and step > self.logged_until:
            self.ctx.emit(EventType.METRICS, step, **metrics)
        level: AlertLevel = "error" if self.guard.policy == "stop" else "warning"
        for finding in self.guard.check(step, metrics, self.key):
            if main:
                self.ctx.alert(finding.code, finding.message, step, level=level)
        (failed,) = agree(self.guard.failure is not None)  # one rank's guard stops every rank
        if failed and self.guard.failure is None:
            self.guard.failure = f"stopped at step {step}: another rank's {self.key} guard fired"
        if failed:
            # Do not checkpoint a diverged model; end the loop and let the stage fail the run.
            control.should_training_stop = True
            control.should_save = False
            self.pending = None
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        step = state.global_step
        name, kind, final = self.pending or (step_name(step), "periodic", False)
        self.pending = None
        if not self._main(state):
            return control
        folder = Path(args.output_dir) / f"checkpoint-{step}"
        if not folder.is_dir():
            self.ctx.alert("checkpoint_missing", f"the trainer's save at step {step} left no {folder}", step)
            return control
        written, meta = self.manager.finalize(folder, name, kind, step, state.epoch, final)
        for note in self.manager.notes:
            self.ctx.alert("best_metric", note, step, level="warning")
        self.manager.notes.clear()
        keep = ("loss", "accuracy", "margins", "reward", "metric", "metric_value", "epoch")
        self.ctx.emit(EventType.CHECKPOINT, step, name=name, kind=kind, also=written[1:] or None,
                      **{k: meta[k] for k in keep if meta.get(k) is not None})
        return control
