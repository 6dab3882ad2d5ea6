"""The real `aba` command line, run in a child process from the repository root."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

ABA = [sys.executable, "-m", "aba_tui"]


def aba(*args: str, runs_dir: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``aba ARGS`` (``--runs-dir`` right after the subcommand when given)."""
    extra = ["--runs-dir", str(runs_dir)] if runs_dir is not None else []
    cmd = [*ABA, *args[:1], *extra, *args[1:]] if args else [*ABA, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def as_from_a_shell() -> None:
    """``preexec_fn`` for a child that must take ctrl-c as a terminal gives it: SIGINT at its default and
    unblocked (an ignored or blocked signal is inherited across exec, whatever the test process picked up)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
