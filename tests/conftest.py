"""Shared fixtures. Runs happen in a temporary runs dir through the real supervisor and workers."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runs.status import read_status_raw
from pipeline.runs.store import RunStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    s = RunStore(tmp_path / "runs")
    yield s
    # Leave no detached process behind, whatever the test did.
    for info in s.list_runs():
        try:
            st = read_status_raw(info.path)
        except (OSError, ValueError):
            continue
        for pid in (st.supervisor_pid, st.pid):
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL) if pid == st.pid else os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


