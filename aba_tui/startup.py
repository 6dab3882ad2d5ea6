"""Start-up without collector passes: every object made before the first frame lives as long as the app.

Importing Textual and building the dashboard allocate a few hundred thousand objects, and the cyclic
collector walks them again and again while they are made, for nothing: about a tenth of the CPU to the
first frame (benchmarks/bench_tui_startup.py). ``pause_collector`` runs before those imports;
``resume_collector`` after the first frame moves what start-up made out of the collector's sight
(``gc.freeze``: later passes, idle ones included, walk only what came after) and turns it back on.
"""

from __future__ import annotations

import gc

_state = {"paused": False, "frozen": False}


def pause_collector() -> None:
    """No collector passes until ``resume_collector`` (a no-op when the collector is already off)."""
    if gc.isenabled():
        gc.disable()
        _state["paused"] = True


def resume_collector() -> None:
    """Back to normal collection; start-up's objects frozen once per process."""
    if not _state["paused"]:
        return
    _state["paused"] = False
    if not _state["frozen"]:
        _state["frozen"] = True
        gc.freeze()
    gc.enable()
