"""Trainer logs → the project's metric names (docs/events.md), plus throughput and ETA.

TRL names things its own way (``rewards/accuracies``, ``learning_rate``, ``rewards/<func>/mean``); the
UI and checkpoint metadata use one vocabulary for every stage. Unknown numeric keys pass through.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipeline.rewards.trl_funcs import REWARD_NAME

RENAME = {
    "learning_rate": "lr",
    "rewards/accuracies": "accuracy",
    "rewards/margins": "margins",
    "completions/mean_length": "completion_length",
}
# Logged once at the end of training (HF's summary): not a step's metrics.
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")


def is_summary(logs: dict[str, Any]) -> bool:
    return any(k in logs for k in SUMMARY_KEYS)


def map_logs(logs: dict[str, Any], reward_dims: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in logs.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key.startswith("rewards/") and key.count("/") == 2:
            _, name, stat = key.split("/")
            if name in reward_dims:
                if stat == "mean":
                    out[f"rewards/{name}"] = value  # seed 000's per-dimension means
                continue  # std/min/max of each dimension: not kept
            if name == REWARD_NAME:
                continue  # GRPO's one reward function: TRL logs the same numbers as reward, reward_std
        out[RENAME.get(key, key)] = value
    # SFT has no preference accuracy; its token accuracy is the nearest thing.
    if "accuracy" not in out and "mean_token_accuracy" in out:
        out["accuracy"] = out["mean_token_accuracy"]
    if isinstance(out.get("epoch"), float):
        out["epoch"] = round(out["epoch"], 4)
    return out


@dataclass
class Throughput:
    """samples/s and tokens/s between two logs; ETA from the mean step time since training began."""

    samples_per_step: int
    total_steps: int
    start_step: int = 0
    t0: float = field(default_factory=time.monotonic)
    _last: tuple[float, int, float | None] | None = None  # (time, step, tokens)

    def update(self, step: int, tokens: float | None, now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        out: dict[str, float] = {}
        prev_t, prev_step, prev_tokens = self._last or (self.t0, self.start_step, None)
        dt = now - prev_t
        if dt > 0 and step > prev_step:
            out["samples_per_s"] = round((step - prev_step) * self.samples_per_step / dt, 4)
            if tokens is not None and prev_tokens is not None and tokens >= prev_tokens:
                out["tokens_per_s"] = round((tokens - prev_tokens) / dt, 2)
        done = step - self.start_step
        if done > 0 and self.total_steps > 0:
            out["eta_s"] = round(max(0, self.total_steps - step) * (now - self.t0) / done, 1)
        self._last = (now, step, tokens)
        return out
