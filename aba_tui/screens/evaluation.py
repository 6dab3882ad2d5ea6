"""Eval screen: every eval run's before/after report — the seeds' success criteria as a table (PASS/FAIL
with intervals), the judge's reliability flag, then the report: headline with intervals, the tournament's
rating table and the worst examples.

The report is computed by the eval stage (pipeline.evaluate, no torch); this screen only reads
``eval_report.json`` from run folders. Keys: f5 rescan · enter/up/down pick a report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Label, Markdown

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from aba_tui.screens.runs_dir import RunsDirScreen
from pipeline.evaluate.report import list_reports, markdown
from pipeline.evaluate.report_md import analyser_of, criterion_row

CRITERIA_COLUMNS = ("model", "seed", "criterion", "verdict", "value [95 % CI]", "n / note")


def judge_flag(report: dict[str, Any]) -> str:
    """'judge: no signal (reasons)', 'judge ok', 'judge unmeasured' or '' when the report used no judge."""
    judged = report.get("judge")
    if not judged:
        return ""
    rel = judged.get("reliability")
    if rel is None:
        return "judge unmeasured" if "reliability" in judged else ""
    return f"{rel['flag']}: {'; '.join(rel.get('reasons', []))}" if rel.get("flag") else "judge ok"


def _passes(report: dict[str, Any]) -> str:
    out = []
    for model, rows in (report.get("criteria") or {}).items():
        judged = [c for c in rows if c["verdict"] != "n/a"]
        out.append(f"{model} {sum(c['verdict'] == 'PASS' for c in judged)}/{len(judged)}")
    return ", ".join(out) or "-"


def _summary(report: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    models = ", ".join(m["label"] for m in report.get("models", []))
    cmps = report.get("comparisons") or {}
    moved = ", ".join(f"{k}: {'yes' if c.get('moved_as_intended') else 'no'}" for k, c in cmps.items()) or "-"
    flags = sum(len(c.get("red_flags", [])) for c in cmps.values())
    judge = judge_flag(report).split(":")[0] or "-"
    return models, moved, str(flags), _passes(report), judge, analyser_of(report).split(" ")[0]


class EvalScreen(RunsDirScreen):
    DEFAULT_CSS = """
    EvalScreen #ev-runs { height: auto; max-height: 10; }
    EvalScreen #ev-status { height: 1; padding: 0 1; background: $boost; }
    EvalScreen #ev-judge { height: auto; padding: 0 1; display: none; }
    EvalScreen #ev-judge.-weak { display: block; background: $warning 30%; color: $text; text-style: bold; }
    EvalScreen #ev-criteria { height: auto; max-height: 16; border: round $secondary 60%; }
    EvalScreen #ev-scroll { height: 1fr; border: round $secondary 60%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5,ctrl+r", "refresh", "Rescan", id="eval.refresh"),
    ]

    def __init__(self, runs_dir: Path | str | None = None) -> None:
        super().__init__(runs_dir)
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.shown: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield DataTable(id="ev-runs", cursor_type="row", zebra_stripes=True)
            yield Label("scanning…", id="ev-status")
            yield Label("", id="ev-judge", markup=False)
            yield DataTable(id="ev-criteria", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="ev-scroll"):
                yield Markdown("", id="ev-report")
        yield KeyFooter()

    @guarded("evaluation")
    def on_mount(self) -> None:
        self.sub_title = "Evaluation"
        self.query_one("#ev-scroll").border_title = "Report"
        self.query_one("#ev-criteria").border_title = "Success criteria (seeds 003, 000)"
        table = self.query_one("#ev-runs", DataTable)
        for col in ("run", "models", "moved as intended", "red flags", "criteria passed", "judge", "analyser"):
            table.add_column(col, key=col)
        crit = self.query_one("#ev-criteria", DataTable)
        for col in CRITERIA_COLUMNS:
            crit.add_column(col, key=col)
        table.focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        self._scan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="eval-scan")
    def _scan(self) -> None:
        reports = list_reports(self.runs_dir)
        self.app.call_from_thread(self._set, reports)

    @guarded("eval reports")
    def _set(self, reports: list[tuple[str, dict[str, Any]]]) -> None:
        self.reports = reports
        table = self.query_one("#ev-runs", DataTable)
        table.clear()
        for run_id, rep in reports:
            table.add_row(*(escape(v) for v in (run_id, *_summary(rep))), key=run_id)  # "[/x]" shown, not parsed
        status = self.query_one("#ev-status", Label)
        if not reports:
            status.update(f"no eval reports in {self.runs_dir} (start one: aba run --preset eval-demo)")
            return
        status.update(f"{len(reports)} eval report(s) in {self.runs_dir}")
        self.show(reports[0][0])

    @guarded("eval report")
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "ev-runs":
            return
        if event.row_key is not None and event.row_key.value:
            self.show(str(event.row_key.value))

    def show(self, run_id: str) -> None:
        if run_id == self.shown:
            return
        rep = next((r for k, r in self.reports if k == run_id), None)
        if rep is None:
            return
        self.shown = run_id
        self.query_one("#ev-scroll").border_title = f"Report · {run_id}"
        flag = judge_flag(rep)
        label = self.query_one("#ev-judge", Label)
        label.update(flag)
        label.set_class(flag.startswith("judge: no signal") or flag == "judge unmeasured", "-weak")
        crit = self.query_one("#ev-criteria", DataTable)
        crit.clear()
        for model, rows in (rep.get("criteria") or {}).items():
            for c in rows:
                text, verdict, value, note = criterion_row(c)
                crit.add_row(*(escape(str(v)) for v in (model, c.get("seed", ""), text, verdict, value, note)))
        self.query_one("#ev-report", Markdown).update(markdown(rep))
