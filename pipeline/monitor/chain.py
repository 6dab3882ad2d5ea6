"""Waiting for a whole chain (`aba run --preset X --wait`): a run, then the run its supervisor started next
(the `chain` event), and so on until a run ends that starts none, or one that did not succeed.

The supervisor writes the `chain` event (or a `chain_failed` alert) before the parent's final status, so a
reader that sees "succeeded" finds what came next in the end of the parent's events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.runs import launcher
from pipeline.runs.events import parse_line, read_last_lines
from pipeline.runs.layout import EVENTS_FILE
from pipeline.runs.status import TERMINAL, read_status
from pipeline.runs.store import RunStore
from pipeline.runs.vocabulary import EventType

TAIL_LINES = 200  # the chain event sits among a run's last events (only its end status and alerts follow)


@dataclass(frozen=True)
class ChainEnd:
    run_id: str  # the last run waited on: the chain's last, or the one that stopped it
    stage: str
    state: str  # its state, or "chain_failed" when it succeeded but its next stage could not start
    reason: str | None
    runs: tuple[str, ...]  # every run of the chain waited on, in order

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"


def next_of(store: RunStore, run_id: str) -> tuple[str | None, str | None]:
    """(the run a finished run's chain started, why it started none: a `chain_failed` alert's message)."""
    failed: str | None = None
    for raw in reversed(read_last_lines(store.path(run_id) / EVENTS_FILE, TAIL_LINES)):
        ev = parse_line(raw)
        if not ev:
            continue
        if ev.get("type") == EventType.CHAIN and isinstance(ev.get("next_run"), str):
            return ev["next_run"], None
        if ev.get("type") == EventType.ALERT and ev.get("code") == "chain_failed" and failed is None:
            failed = str(ev.get("message") or "the next stage could not start")
    return None, failed


def wait_chain(store: RunStore, run_id: str, timeout: float,
               on_next: Callable[[str, str], None] | None = None) -> ChainEnd:
    """Wait for ``run_id`` and every run its chain starts, ``timeout`` seconds in all (a run still going then
    ends the wait with its current state). ``on_next(run_id, stage)`` as each next run is found."""
    deadline = time.time() + timeout
    runs = [run_id]
    while True:
        state = launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=max(0.0, deadline - time.time()))
        st = read_status(store.path(run_id))
        if state != "succeeded":
            return ChainEnd(run_id, st.stage, state, st.reason, tuple(runs))
        child, failed = next_of(store, run_id)
        if failed is not None:
            return ChainEnd(run_id, st.stage, "chain_failed", failed, tuple(runs))
        if child is None:
            return ChainEnd(run_id, st.stage, state, None, tuple(runs))
        run_id = child
        runs.append(child)
        if on_next is not None:
            on_next(child, read_status(store.path(child)).stage)
