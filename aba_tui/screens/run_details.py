"""A run's details (`i` on a run): its state and end, peak RAM/CPU/VRAM, best metrics, the resolved
config with what differs from the stage's defaults marked, and the operator's note and tags (saved to
notes.json with ctrl+s). Read in a worker (it reads the whole events file)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Input, Label, Static, TextArea

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from aba_tui.screens.sub import SubScreen
from pipeline.errors import ConfigError
from pipeline.monitor import fmt
from pipeline.monitor.summary import HEADLINE, RunSummary, peaks_line, summarize
from pipeline.runs.notes import parse_tags, write_notes


def best_line(s: RunSummary) -> str:
    shown = [m for m in HEADLINE if m in s.best] or sorted(s.best)[:5]
    if not shown:
        return "no metrics logged"
    best = " · ".join(f"{m} {fmt.number(s.best[m])}" for m in shown)
    return f"best: {best}" + (" (from the end of a big events file)" if s.partial else "")


class RunDetailsScreen(SubScreen):
    HELP = """\
## Run details
The run's end, its peak RAM/CPU/VRAM (recorded by its supervisor), its best metrics, and its whole
resolved config (run.toml); **•** marks a value that differs from the stage's default. The note and
tags are yours: ctrl+s saves them in the run folder (notes.json); tags show in the comparison (`C`)."""
    DEFAULT_CSS = """
    RunDetailsScreen #rd-head { height: auto; padding: 0 1; background: $boost; }
    RunDetailsScreen #rd-body { height: 1fr; }
    RunDetailsScreen #rd-config { width: 3fr; }
    RunDetailsScreen #rd-notes { width: 2fr; padding: 0 1; }
    RunDetailsScreen #rd-note { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save note", id="details.save", priority=True,
                tooltip="save the note and tags to the run folder"),
        Binding("N", "app.launch_like", "New run like this", id="details.like",
                tooltip="the launch form, prefilled with this run's config"),
    ]

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.summary: RunSummary | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("reading the run…", id="rd-head")
        with Horizontal(id="rd-body"):
            yield DataTable(id="rd-config", cursor_type="row", zebra_stripes=True)
            with Vertical(id="rd-notes"):
                yield Label("tags (words, comma or space between)")
                yield Input(id="rd-tags", placeholder="e.g. baseline lr-sweep")
                yield Label("note")
                yield TextArea(id="rd-note")
                yield Label("", id="rd-saved")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.run_dir.name
        table = self.query_one(DataTable)
        for col in ("", "key", "value", "default"):
            table.add_column(col, key=col or "mark")
        table.focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run-details")
    def _load(self) -> None:
        summary = summarize(self.run_dir)
        self.app.call_from_thread(self._show, summary)

    @guarded()
    def _show(self, s: RunSummary) -> None:
        self.summary = s
        now = time.time()
        took = fmt.duration((s.ended_at or now) - s.started_at) if s.started_at else "-"
        head = Text()
        head.append(f"{s.run_id}", style="bold")
        head.append(f"  {s.stage} · {s.state}" + (f" · {s.reason}" if s.reason else "") + "\n")
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started_at)) if s.started_at else "-"
        head.append(f"started {started} · {'took' if s.ended_at else 'running for'} {took} · "
                    f"step {s.step if s.step is not None else '-'} · {self.run_dir.resolve()}\n")
        head.append(peaks_line(s.peaks) + "\n")
        head.append(best_line(s))
        self.query_one("#rd-head", Static).update(head)
        table = self.query_one(DataTable)
        table.clear()
        changed = s.changed()
        for key, value in sorted(s.config.items(), key=lambda kv: (kv[0] not in changed, kv[0])):
            default = s.defaults.get(key, "-")
            table.add_row("•" if key in changed else "", key, _show_value(value),
                          _show_value(default) if key in changed else "", key=key)
        self.query_one("#rd-tags", Input).value = " ".join(s.notes.tags)
        self.query_one("#rd-note", TextArea).text = s.notes.note

    def action_save(self) -> None:
        try:
            tags = parse_tags(self.query_one("#rd-tags", Input).value)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return
        note = self.query_one("#rd-note", TextArea).text
        self._save(note, tags)

    @work(thread=True, exclusive=True, exit_on_error=False, group="run-notes")
    def _save(self, note: str, tags: list[str]) -> None:
        try:
            write_notes(self.run_dir, note, tags)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"{self.run_dir}: cannot save the note ({exc.strerror})",
                                      severity="error")
            return
        self.app.call_from_thread(self.query_one("#rd-saved", Label).update,
                                  f"saved {time.strftime('%H:%M:%S')} to {self.run_dir.name}/notes.json")


def _show_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "[]"
    if isinstance(value, float):
        return fmt.number(value, 6)
    return str(value)
