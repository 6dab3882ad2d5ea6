"""``run:<id>[@checkpoint]``: another run named in a config value (``model.source``, ``<stage>.data``,
``eval.models``, ``merge.sources`` …), parsed and written in this one place. Looking the run up is the
caller's part, in the runs dir it is handed (pipeline.models.runsource, pipeline.data.loaders)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import ConfigError

PREFIX = "run:"
FORM = "run:<id>[@checkpoint]"


@dataclass(frozen=True)
class RunRef:
    run: str  # a run id, a unique prefix or suffix of one, or a run folder's path (RunStore.resolve)
    checkpoint: str | None = None  # best, final, latest or a checkpoint's name; None: best, else final

    @property
    def body(self) -> str:
        """The reference without its ``run:`` prefix."""
        return self.run + (f"@{self.checkpoint}" if self.checkpoint else "")

    def __str__(self) -> str:
        return PREFIX + self.body


def is_run_ref(value: str) -> bool:
    return value.startswith(PREFIX)


def parse_run_ref(value: str, key: str = "model.source") -> RunRef:
    """``run:<id>[@checkpoint]`` → RunRef; anything else is a ConfigError naming ``key``."""
    run, sep, checkpoint = value.removeprefix(PREFIX).partition("@")
    if not is_run_ref(value) or not run.strip() or (sep and not checkpoint.strip()):
        raise ConfigError(f"{key}={value!r}: expected {FORM}, e.g. run:20261121-1530-dpo-smollm2@best")
    return RunRef(run.strip(), checkpoint.strip() if sep else None)


def run_ref(run: str, checkpoint: str | None = None) -> str:
    """The reference to ``run`` (and one of its checkpoints) as a config value."""
    return str(RunRef(run, checkpoint))
