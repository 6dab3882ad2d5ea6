"""The runs dir: create run folders, list runs, read their status and events.

Layout of one run (full contract in docs/run-folder.md)::

    runs/<run_id>/run.toml  status.json  events.jsonl  stdout.log  stderr.log  checkpoints/<name>/
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.atomic import atomic_write_text
from pipeline.config.paths import resolve_runs_dir
from pipeline.errors import RunDirError, RunNotFound
from pipeline.runs import lock
from pipeline.runs.layout import EVENTS_FILE, RUN_TOML, STATUS_FILE
from pipeline.runs.runid import claim_run_dir, new_run_id
from pipeline.runs.status import Status, read_status, write_status

if TYPE_CHECKING:
    from pipeline.config.run import RunConfig


def default_runs_dir() -> Path:
    """The runs dir when no flag names one: $ABA_RUNS_DIR, the config file's runs_dir, or ./runs."""
    return resolve_runs_dir()


def load_run_config(run_dir: Path) -> RunConfig:
    """A run's resolved config, from its run.toml (validated like any config file)."""
    from pipeline.config.run import build_config  # here: the TUI lists runs long before it reads a config

    return build_config(files=[Path(run_dir) / RUN_TOML], check_paths=False)


@dataclass
class RunInfo:
    run_id: str
    path: Path
    status: Status | None
    error: str | None = None
    fault: str = "corrupt"  # the state shown when status.json cannot be read (or "unreadable")

    @property
    def state(self) -> str:
        return self.status.state if self.status else self.fault

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS_FILE


class RunStore:
    def __init__(self, runs_dir: Path | str | None = None) -> None:
        # Absolute from here on: every message and the app's title name the folder wherever it is read.
        self.root = Path(os.path.abspath(Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()))

    def check_readable(self) -> None:
        """Readers (`aba ps`) never create the runs dir: a missing one or a file is one line."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise RunDirError(f"--runs-dir {root}: not a folder (expected a folder of run folders)")
        if not root.exists():
            raise RunDirError(f"--runs-dir {root}: no such folder (the first `aba run` creates it)")

    def check_writable(self) -> None:
        """Starting a run creates a missing runs dir, only its last folder (a typo with missing parents is
        refused rather than grown into a tree); the CLI says when it did."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise RunDirError(f"--runs-dir {root}: not a folder (expected a writable folder)")
        try:
            root.mkdir(mode=0o755, exist_ok=True)
        except FileNotFoundError:
            raise RunDirError(f"--runs-dir {root}: cannot create it (its parent {root.parent} does not exist; aba "
                              "creates the runs dir itself, never its parents)") from None
        except OSError as exc:
            raise RunDirError(f"--runs-dir {root}: cannot create it ({exc.strerror})") from None
        if not os.access(root, os.W_OK | os.X_OK):
            raise RunDirError(f"--runs-dir {root}: not writable (expected a writable folder)")

    def claim_run(self, cfg: RunConfig) -> tuple[str, Path, int]:
        """Claim a folder, take its lock, write run.toml and a queued status. Returns the locked descriptor
        (hand it to the supervisor, then close it). Nothing is left on failure."""
        self.check_writable()
        run_id, path = claim_run_dir(self.root, new_run_id(cfg.stage, cfg.model_label()))
        try:
            fd = lock.acquire(path, run_id)
            try:
                atomic_write_text(path / RUN_TOML, cfg.to_toml(), mode=0o644)
                write_status(path, Status(run_id=run_id, stage=cfg.stage, parent=cfg.parent))
            except BaseException:
                os.close(fd)
                raise
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return run_id, path, fd

    def create_run(self, cfg: RunConfig) -> tuple[str, Path]:
        """:meth:`claim_run` without starting anything (the lock is released)."""
        run_id, path, fd = self.claim_run(cfg)
        os.close(fd)
        return run_id, path

    def path(self, run_id: str) -> Path:
        return self.root / run_id

    def resolve(self, ref: str) -> Path:
        """A run id, a unique prefix of one, or a path to a run folder."""
        p = Path(ref)
        if (p / STATUS_FILE).is_file():
            return p
        direct = self.root / ref
        if (direct / STATUS_FILE).is_file():
            return direct
        matches = [r for r in self.run_ids() if r.startswith(ref) or r.endswith(ref)]
        if len(matches) == 1:
            return self.root / matches[0]
        if len(matches) > 1:
            raise RunNotFound(f"run {ref!r} is ambiguous in {self.root}: {', '.join(matches[:5])}")
        raise RunNotFound(f"run {ref!r}: no such run in {self.root} (see `aba ps`)")

    def run_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        # A symlink is never a run folder here: prune, cleanup and writes must not leave the runs dir.
        return sorted(e.name for e in os.scandir(self.root)
                      if e.is_dir(follow_symlinks=False) and os.path.lexists(os.path.join(e.path, STATUS_FILE)))

    def get(self, ref: str) -> RunInfo:
        path = self.resolve(ref)
        return self._info(path)

    def _info(self, path: Path) -> RunInfo:
        try:
            return RunInfo(path.name, path, read_status(path))
        except (OSError, ValueError) as exc:
            from pipeline.runs.faults.runs_dir import read_error

            fault, reason = read_error(path / STATUS_FILE, exc)
            return RunInfo(path.name, path, None, reason, fault)

    def list_runs(self) -> list[RunInfo]:
        return [self._info(self.root / rid) for rid in self.run_ids()]
