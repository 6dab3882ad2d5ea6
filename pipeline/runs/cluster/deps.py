"""Run dependencies (``aba run --after RUN``, ``after = [...]``): a run starts once the named runs succeed.

Between two Slurm runs the dependency is Slurm's own (``--dependency=afterok``, and Slurm cancels the
job when it can never start); otherwise the new run's supervisor waits, queued, reading the named
runs' status.json. Either way a dependency that ends other than ``succeeded`` ends this run
``failed`` with a reason naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import RunNotFound
from pipeline.runs.status import TERMINAL, read_status
from pipeline.runs.store import RunStore

POLL_SECONDS = 1.0


def resolve_after(store: RunStore, refs: list[str]) -> list[str]:
    """Run ids for ``--after`` references (id, unique prefix or suffix); one clear error for a bad one."""
    out = []
    for ref in refs:
        try:
            out.append(store.get(ref).run_id)
        except RunNotFound as exc:
            raise RunNotFound(f"--after {ref!r}: {exc}") from None
    return out


def slurm_job_ids(root: Path, after: list[str]) -> list[str] | None:
    """The Slurm job ids to give ``--dependency=afterok`` when every unfinished dependency is an active
    Slurm run; None when some is not (the supervisor then waits for it inside the job)."""
    jobs = []
    for run_id in after:
        st = read_status(root / run_id)
        if st.state == "succeeded":
            continue
        if st.state in TERMINAL or st.state == "lost" or not st.job_id:
            return None
        jobs.append(st.job_id)
    return jobs


def verdict(root: Path, after: list[str]) -> tuple[bool, str | None]:
    """(all succeeded, the failure reason naming the run when one cannot succeed any more)."""
    done = True
    for run_id in after:
        try:
            st = read_status(root / run_id)
        except (OSError, ValueError) as exc:
            return False, f"dependency {run_id} cannot be read ({exc})"
        if st.state == "succeeded":
            continue
        if st.state in TERMINAL or st.state == "lost":
            why = f": {st.reason}" if st.reason else ""
            return False, f"dependency {run_id} ended {st.state}{why}"[:500]
        done = False
    return done, None


def wait(root: Path, after: list[str], stopped: Callable[[], bool],
         on_wait: Callable[[str], None] | None = None) -> str | None:
    """Block until every run in ``after`` succeeded (None), one cannot (its reason), or a stop came."""
    told = False
    while True:
        done, failure = verdict(root, after)
        if done or failure:
            return failure
        if stopped():
            return None
        if not told and on_wait is not None:
            waiting = [r for r in after if read_status(root / r).state != "succeeded"]
            on_wait("waiting for " + ", ".join(waiting) + " to succeed")
            told = True
        time.sleep(POLL_SECONDS)
