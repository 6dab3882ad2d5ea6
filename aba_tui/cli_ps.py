"""`aba ps`'s table and its watch mode, and `aba run --wait`'s wait for a whole chain (the command line's
commands that watch runs; aba_tui.cli parses the arguments)."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable

from pipeline.monitor import fmt as fmt_
from pipeline.runs.status import ACTIVE
from pipeline.runs.store import RunStore

Rows = Callable[[RunStore], list[dict]]  # aba_tui.cli's: every run's row as the runs pane computes it
Where = Callable[[dict], str]


def ps_lines(store: RunStore, rows: list[dict], where: Where) -> list[str]:
    """`aba ps`'s table (``where``: where a row's run lives)."""
    if not rows:
        return [f"no runs in {store.root}"]
    fmt = "{:<36} {:<10} {:<10} {:<10} {:>11} {:>9} {:>7} {:>5} {:<16} {}"
    out = [fmt.format("RUN", "STAGE", "STATE", "PHASE", "STEP", "LOSS", "ETA", "AGE", "WHERE", "REASON")]
    for r in rows:
        step = f"{r.get('step', '-')}/{r.get('total_steps', '?')}" if r.get("step") is not None else "-"
        loss = r.get("loss")
        loss_s = f"{loss:.4g}" if isinstance(loss, int | float) else "-"
        eta = fmt_.eta(r.get("eta_s")) + ("+" if r.get("eta_more") and r.get("eta_s") is not None else "")
        out.append(fmt.format(r["run_id"][:36], str(r.get("stage", "?"))[:10], r["state"], str(r.get("phase", ""))[:10],
                              step, loss_s, eta, fmt_.age(r.get("started_at"), time.time()), where(r)[:16],
                              (r.get("reason") or "")[:60]))
    return out


def watch_ps(store: RunStore, interval: float, rows: Rows, where: Where) -> int:
    """`aba ps --watch`: the table redrawn in place every ``interval`` seconds (as watch(1) does: plain
    text, so it works over SSH and in any terminal) until ctrl-c."""
    tty = sys.stdout.isatty()
    try:
        while True:
            lines = ps_lines(store, rows(store), where)
            head = f"aba ps --watch: every {interval:g} s, ctrl-c to quit  {time.strftime('%H:%M:%S')}"
            if tty:
                # As watch(1): each line cut to the width and the frame to the height (a wrapped or scrolled
                # frame would no longer start at home), drawn from home with each line's rest and the screen
                # below cleared: no flicker.
                cols, height = shutil.get_terminal_size()
                body = [head, "", *lines]
                fits = max(1, height - 2)
                if len(body) > fits + 1:
                    body = [*body[:fits], f"… {len(body) - fits} more lines"]
                frame = "\x1b[H" + "".join(f"{ln[:cols]}\x1b[K\n" for ln in body) + "\x1b[J"
            else:
                frame = "\n".join([head, *lines, ""])
            sys.stdout.write(frame)
            sys.stdout.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        if tty:
            sys.stdout.write("\n")
        return 0


def wait_whole_chain(store: RunStore, run_id: str, timeout: float) -> int:
    """`aba run --wait`: every stage of the chain; 0 when the last succeeded, else 1 naming the stage that did not.
    Prints each run's id on stdout as it starts, the first one included."""
    current = [run_id]

    def started(child: str, stage: str) -> None:
        current[0] = child
        print(child, flush=True)  # each run's id on stdout, as the first's
        print(f"aba: the chain goes on: {stage} run {child}", file=sys.stderr, flush=True)

    try:
        print(run_id, flush=True)
        from pipeline.monitor.chain import wait_chain  # inside: a ctrl-c during the import is the same ctrl-c

        end = wait_chain(store, run_id, timeout, on_next=started)
    except KeyboardInterrupt:
        rid = current[0]
        print(f"aba: stopped waiting; run {rid} goes on in the background (aba tail -f {rid} follows it, "
              f"aba stop {rid} ends it)", file=sys.stderr)
        return 130
    print(f"{end.run_id}: {end.state}", file=sys.stderr)
    if end.ok:
        return 0
    why = f"still {end.state} after {timeout:g} s (the run goes on)" if end.state in ACTIVE else end.state
    print(f"aba: the chain stopped at its {end.stage} stage (run {end.run_id}): {why}"
          + (f": {end.reason}" if end.reason else ""), file=sys.stderr)
    return 1
