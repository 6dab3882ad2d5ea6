"""How `aba status` prints one run for a person: steps as step/total, losses to four figures, times
as dates and durations, and the files an operator looks for next (an export's GGUF). `--json` keeps
the raw values."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline.monitor import fmt


def _when(ts: Any, now: float) -> str | None:
    if not isinstance(ts, int | float) or not ts:
        return None
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({fmt.age(ts, now)} ago)"


def status_lines(row: dict[str, Any], folder: Path, now: float | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of ``aba status RUN``, in reading order; absent values are left out."""
    now = time.time() if now is None else now
    out: list[tuple[str, Any]] = [("run_id", row.get("run_id")), ("stage", row.get("stage"))]
    state = str(row.get("state", "?"))
    attempt = row.get("attempt")
    out.append(("state", state + (f" (attempt {attempt})" if isinstance(attempt, int) and attempt > 1 else "")))
    out.append(("reason", row.get("reason")))
    step, total = row.get("step"), row.get("total_steps")
    if step is not None:
        phase = f" ({row['phase']})" if row.get("phase") else ""
        out.append(("step", (f"{step}/{total}" if total else str(step)) + phase))
    if isinstance(row.get("loss"), int | float):
        out.append(("loss", f"{fmt.number(row['loss'])} (last logged)"))
    if row.get("eta_s") is not None:
        more = " (this phase; more follow)" if row.get("eta_more") else ""
        out.append(("eta", fmt.eta(row["eta_s"]) + more))
    out.append(("started", _when(row.get("started_at"), now)))
    ended = row.get("ended_at")
    if isinstance(ended, int | float) and ended:
        took = fmt.duration(ended - row["started_at"]) if isinstance(row.get("started_at"), int | float) else "-"
        out.append(("ended", f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ended))} (took {took})"))
    for key in ("exit_code", "signal", "pid", "supervisor_pid", "parent", "job_id", "nodes"):
        out.append((key.replace("_", " "), row.get(key)))
    out.append(("folder", str(folder.resolve())))
    out += [("export", line) for line in export_lines(folder)]
    out += _notes_and_peaks(folder)
    return [(k, str(v)) for k, v in out if v is not None and v != ""]


def _notes_and_peaks(folder: Path) -> list[tuple[str, Any]]:
    from pipeline.monitor.summary import peaks_line, summarize
    from pipeline.runs.notes import read_notes

    notes = read_notes(folder)
    out: list[tuple[str, Any]] = [("tags", " ".join(notes.tags)), ("note", notes.note.replace("\n", " / "))]
    peaks = summarize(folder).peaks
    if peaks:
        out.append(("peaks", peaks_line(peaks)))
    return out


def export_lines(folder: Path) -> list[str]:
    """One line per GGUF an export run wrote: its absolute path, quantisation, size and verification."""
    from pipeline.export import run_exports

    lines = []
    for exp in run_exports(folder):
        verify = exp.meta.get("verify")
        checked = "verified" if exp.verified else ("not verified" if verify is None else "verification FAILED")
        lines.append(f"{exp.gguf.resolve()} ({exp.meta.get('quant', '?')}, "
                     f"{fmt.size(exp.meta.get('size_bytes'))}B, {checked})")
    return lines
