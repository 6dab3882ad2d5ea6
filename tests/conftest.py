"""Shared fixtures. Runs happen in a temporary runs dir through the real supervisor and workers."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.runs.status import read_status_raw
from pipeline.runs.store import RunStore
from tests.support.hub import serve_hub


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




@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[set[str]]:
    """A loopback hub (tests/support/hub.py) knowing ``org/exists`` (``org/gated`` is gated), an empty model
    cache, HF_HUB_OFFLINE unset; yields the known ids, which a test may extend."""
    with serve_hub({"org/exists"}, {"org/gated"}) as (endpoint, known):
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield known


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``long`` (a whole chain past the suite's ~15-minute budget on 2 cores) run only with
    ABA_LONG_TESTS=1; their short versions run always."""
    if os.environ.get("ABA_LONG_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="a long end-to-end chain: set ABA_LONG_TESTS=1 to run it")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)
