"""Abliteration screen: every abliterate run's Optuna study, live — the trial table (Pareto-front
trials marked), the refusals-vs-KL scatter, baseline and chosen trial.

It only reads events.jsonl (pipeline.abliterate.pareto, no torch; new lines by offset). Saving a
trial and opening it in the A/B chat run ``python -m pipeline.abliterate.save`` in a subprocess.
Keys: s save the highlighted trial as a checkpoint · a save it, convert it and the original to
GGUF and open both in the A/B chat · f5 rescan runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Label, Static

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from aba_tui.panes.pareto import render, scatter
from aba_tui.screens.runs_dir import RunsDirScreen
from pipeline.abliterate.pareto import STUDY_EVENTS, StudyView, from_events
from pipeline.runs.events import Tail
from pipeline.runs.layout import EVENTS_FILE
from pipeline.runs.store import RunStore


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


class AbliterationScreen(RunsDirScreen):
    DEFAULT_CSS = """
    AbliterationScreen #ab-runs { height: auto; max-height: 8; }
    AbliterationScreen #ab-status { height: 2; padding: 0 1; background: $boost; }
    AbliterationScreen #ab-trials { width: 1fr; }
    AbliterationScreen #ab-plot { width: 1fr; border: round $secondary 60%; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "save_trial", "Save trial", id="ablit.save"),
        Binding("a", "chat_trial", "A/B chat", id="ablit.chat"),
        Binding("f5,ctrl+r", "rescan", "Rescan", id="ablit.rescan"),
    ]

    def __init__(self, runs_dir: Path | str | None = None, poll_s: float = 0.5) -> None:
        super().__init__(runs_dir)
        self.poll_s = poll_s
        self.run_id: str | None = None
        self.tail: Tail | None = None
        self.events: list[dict[str, Any]] = []
        self.view = StudyView([("refusals", "minimize"), ("kl", "minimize")], [])
        self.shown_trials = -1

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield DataTable(id="ab-runs", cursor_type="row", zebra_stripes=True)
            yield Label("scanning…", id="ab-status")
            with Horizontal():
                yield DataTable(id="ab-trials", cursor_type="row", zebra_stripes=True)
                yield Static("", id="ab-plot")
        yield KeyFooter()

    @guarded("abliteration")
    def on_mount(self) -> None:
        self.sub_title = "Abliteration"
        self.query_one("#ab-plot").border_title = "Pareto: refusals vs KL"
        runs = self.query_one("#ab-runs", DataTable)
        for col in ("run", "state", "trials"):
            runs.add_column(col, key=col)
        self.action_rescan()
        self.set_interval(self.poll_s, self._poll)

    # -- runs --------------------------------------------------------------------------------------
    def action_rescan(self) -> None:
        if self.tail is None:
            self.run_id = None  # a study no longer followed (it could not be read) is selected again
        self._scan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ablit-scan")
    def _scan(self) -> None:
        found = []
        for info in RunStore(self.runs_dir).list_runs():
            if info.status is not None and info.status.stage == "abliterate":
                found.append((info.run_id, info.state))
        self.app.call_from_thread(self._set_runs, sorted(found, reverse=True))

    @guarded("abliteration runs")
    def _set_runs(self, runs: list[tuple[str, str]]) -> None:
        table = self.query_one("#ab-runs", DataTable)
        table.clear()
        for run_id, state in runs:
            table.add_row(run_id, state, "", key=run_id)
        if not runs:
            self.query_one("#ab-status", Label).update(
                f"no abliterate runs in {self.runs_dir} (start one: aba run --preset abliterate-demo)")
            return
        if self.run_id not in {r for r, _ in runs}:
            self.select(runs[0][0])
        table.focus()

    @guarded("abliteration study")
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "ab-runs" and event.row_key is not None and event.row_key.value:
            self.select(str(event.row_key.value))

    def select(self, run_id: str) -> None:
        if run_id == self.run_id:
            return
        self.run_id = run_id
        self.tail = Tail(self.runs_dir / run_id / EVENTS_FILE)
        self.events = []
        self.shown_trials = -1
        self._poll()

    # -- live study --------------------------------------------------------------------------------
    @guarded("abliteration study")
    def _poll(self) -> None:
        if self.tail is None:
            return
        # A study that cannot be read is reported once and no longer followed (not once a poll); f5 tries
        # again.
        tail, self.tail = self.tail, None
        new = tail.poll()
        self.tail = tail
        if tail.resets:  # replaced or truncated: the tail starts again from the top
            self.events, tail.resets = [], 0
        relevant = [e for e in new if e.get("type") in STUDY_EVENTS]
        if not relevant and self.shown_trials >= 0:
            return
        self.events += relevant
        self.view = from_events(self.events)
        self._draw()

    def _draw(self) -> None:
        view = self.view
        names = [n for n, _ in view.objectives]
        front = {t.label for t in view.front()}
        chosen = view.chosen.get("trial") if view.chosen else None
        table = self.query_one("#ab-trials", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        for col in ("trial", *names, "front", "s"):
            table.add_column(col, key=col)
        for t in view.trials:
            mark = "★" if (t.number == chosen and not t.arm) else "●" if t.label in front else ""
            table.add_row(t.label, *(_fmt(t.values.get(n)) for n in names), mark, _fmt(t.seconds), key=t.label)
        if view.trials:
            table.move_cursor(row=min(max(cursor, 0), len(view.trials) - 1))
        # Scatter by position in the table (labels may repeat numbers across the cones comparison's arms).
        pts = [(i, t.values.get("kl", 0.0), t.values.get("refusals", 0.0)) for i, t in enumerate(view.trials)]
        front_idx = {i for i, t in enumerate(view.trials) if t.label in front}
        chosen_idx = next((i for i, t in enumerate(view.trials) if t.number == chosen and not t.arm), None)
        plot = self.query_one("#ab-plot", Static)
        width = max(20, (plot.size.width or 50) - 12)
        height = max(6, (plot.size.height or 14) - 5)
        plot.update(render(scatter(pts, front_idx, chosen_idx, width, height)))
        base = view.baseline or {}
        status = (f"{self.run_id}: {len(view.trials)} trials · original refusals {_fmt(base.get('refusals'))}"
                  f"/{_fmt(base.get('n'))} · front {len(front)}")
        if view.chosen:
            status += f" · chosen trial {chosen}: " + ", ".join(f"{n} {_fmt(view.chosen.get(n))}" for n in names)
        self.query_one("#ab-status", Label).update(status)
        runs = self.query_one("#ab-runs", DataTable)
        if self.run_id is not None and self.run_id in runs.rows:
            runs.update_cell(self.run_id, "trials", str(len(view.trials)))
        self.shown_trials = len(view.trials)

    # -- actions -----------------------------------------------------------------------------------
    def highlighted_trial(self) -> int | None:
        table = self.query_one("#ab-trials", DataTable)
        if not self.view.trials or table.cursor_row < 0:
            return None
        t = self.view.trials[min(table.cursor_row, len(self.view.trials) - 1)]
        if t.arm:
            self.notify("a cones-comparison trial: save it from a single study (abliterate.cones)", severity="warning")
            return None
        return t.number

    def action_save_trial(self) -> None:
        self._save(False)

    def action_chat_trial(self) -> None:
        self._save(True)

    def _save(self, chat: bool) -> None:
        trial = self.highlighted_trial()
        if self.run_id is None or trial is None:
            self.notify("no finished trial to save", severity="warning")
            return
        self.notify(f"saving trial {trial}{' and converting to GGUF' if chat else ''}… (a worker process)")
        self._run_save(self.runs_dir / self.run_id, trial, chat)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ablit-save")
    def _run_save(self, run_dir: Path, trial: int, chat: bool) -> None:
        cmd = [sys.executable, "-m", "pipeline.abliterate.save", str(run_dir), str(trial)]
        cmd += ["--gguf"] if chat else []
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        try:
            msg = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            msg = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
        self.app.call_from_thread(self._saved, msg, chat)

    @guarded("saving the trial")
    def _saved(self, msg: dict[str, Any], chat: bool) -> None:
        if "error" in msg:
            self.notify(f"saving the trial failed: {msg['error']}", severity="error", timeout=10)
            return
        self.notify(f"saved {msg['checkpoint']}")
        if chat and msg.get("gguf") and msg.get("original_gguf"):
            from aba_tui.screens.chat import ChatScreen

            self.app.push_screen(ChatScreen(side_a=msg["original_gguf"], side_b=msg["gguf"]))
