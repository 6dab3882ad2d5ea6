"""NaN/inf and loss-collapse guards (seed 003 logged NaN for thousands of steps; nobody noticed).

Pure logic on one step's logged metrics: the callback feeds it and acts on the verdict. Under
``nan_policy = "stop"`` the first bad step fails the run with a reason naming it; under ``warn`` each
streak of bad steps raises one alert and training goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Loss this close to zero together with zero preference accuracy: seed 003's collapse (the model
# output "!!!!" while the loss read 0.0).
COLLAPSE_LOSS = 1e-6


@dataclass
class Finding:
    code: str  # nan_loss | nan_grad_norm | loss_collapse
    step: int
    message: str


def _bad(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return None


def inspect(step: int, metrics: dict[str, Any]) -> list[Finding]:
    """What is wrong with one step's metrics (``loss``, ``grad_norm``, ``accuracy``)."""
    found = []
    kind = _bad(metrics.get("loss"))
    if kind:
        found.append(Finding("nan_loss", step, f"{kind} loss at step {step}"))
    kind = _bad(metrics.get("grad_norm"))
    if kind:
        found.append(Finding("nan_grad_norm", step, f"{kind} grad_norm at step {step}"))
    loss, acc = metrics.get("loss"), metrics.get("accuracy")
    if (isinstance(loss, int | float) and isinstance(acc, int | float) and math.isfinite(loss)
            and abs(loss) <= COLLAPSE_LOSS and acc == 0.0):
        found.append(Finding("loss_collapse", step,
                             f"loss collapse at step {step} (loss {loss:g} with accuracy 0.0)"))
    return found


@dataclass
class Guard:
    policy: str = "stop"  # stop | warn
    failure: str | None = None  # set once under "stop": the run's failure reason
    _streaks: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def check(self, step: int, metrics: dict[str, Any], key: str = "train.nan_policy") -> list[Finding]:
        """The findings that deserve an alert now (the first of each streak)."""
        found = inspect(step, metrics)
        codes = {f.code for f in found}
        new = [f for f in found if f.code not in self._streaks]
        for f in found:
            self.counts[f.code] = self.counts.get(f.code, 0) + 1
        self._streaks = codes
        if found and self.policy == "stop" and self.failure is None:
            self.failure = "; ".join(f.message for f in found) + f" (stopped by {key}=stop)"
        return new
