"""Checkpoint browser: every checkpoint of every run, ranked by any metric, diffed, probed, pruned.

The logic lives in pipeline.checkpoints.browser / pipeline.checkpoints.collapse (no Textual); the answers come from
``python -m pipeline.probe.worker`` in a worker process, so the UI never loads a model.
Keys: space select · s rank by metric · n natural order · r reverse · d diff two · p probe ·
c collapse scan of the run · x prune the run · e export the checkpoint · E evaluate the selected
checkpoints (one eval run, baseline included) · f5 rescan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Label, Static

from aba_tui.errors import guarded
from aba_tui.panes.columns import cell_len, fit_columns
from aba_tui.panes.footer import KeyFooter
from aba_tui.screens.runs_dir import RunsDirScreen
from pipeline.checkpoints.browser import (
    CkptRow,
    available_metrics,
    best_per_run,
    collect,
    diff,
    disk_usage,
    execute_prune,
    fold_aliases,
    human_age,
    human_bytes,
    measure_sizes,
    merge_note,
    natural_order,
    rank,
    same_as,
)
from pipeline.checkpoints.metrics import lower_is_better
from pipeline.config.runref import run_ref
from pipeline.probe.client import ProbeClient, ProbeError, ProbeMode, ProbeProgress, ProbeResult

MAX_PROBE = 4
# The loss, accuracy and margins of a checkpoint are means over the steps since the previous one
# (pipeline.train.checkpointing), hence "mean …"; the runs list shows the last logged value.
COLUMNS = (("sel", ""), ("rank", "#"), ("run", "run"), ("checkpoint", "checkpoint"), ("state", "state"),
           ("step", "step"), ("epoch", "epoch"), ("loss", "mean loss"), ("acc", "mean acc"),
           ("margins", "mean margins"), ("eval", "eval"), ("metric", "metric"), ("size", "size"), ("age", "age"),
           ("collapse", "collapse"), ("note", "note"))
DROP_ORDER = ("epoch", "margins", "age", "eval", "acc", "collapse", "state")  # first to go when narrow
RUN_MIN = 14
NOTE_ROOM = 36  # what the last column claims when the others are fitted
SHOWN_METRICS = {"loss", "accuracy", "margins"}  # ranked by another one: a column of its own


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}g}"


class ProbeProgressed(Message):
    def __init__(self, mode: ProbeMode, progress: ProbeProgress) -> None:
        super().__init__()
        self.mode, self.progress = mode, progress


class ProbeFailed(Message):
    def __init__(self, mode: ProbeMode, error: str) -> None:
        super().__init__()
        self.mode, self.error = mode, error


class ProbeFinished(Message):
    def __init__(self, result: ProbeResult) -> None:
        super().__init__()
        self.result = result


class CheckpointsScreen(RunsDirScreen):
    HELP = """\
## Checkpoints
One row per checkpoint of every run; `best` and `final` are tags on the checkpoint they copy.
**mean loss**, **mean acc** and **mean margins** are averages over the steps since the previous
checkpoint (an HF Trainer folder's are its last logged values); the runs list shows the last logged
loss. **★** marks each run's best by the ranking metric, **#** is the rank. Incomplete and corrupt
checkpoints are listed and marked, never hidden."""
    DEFAULT_CSS = """
    CheckpointsScreen #ck-table { height: 2fr; }
    CheckpointsScreen #ck-status { height: 1; padding: 0 1; background: $boost; }
    CheckpointsScreen #ck-detail { height: 1fr; min-height: 6; border: round $secondary 60%; }
    CheckpointsScreen .probe-col { width: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_select", "Select", id="ckpts.select", tooltip="select or unselect the row"),
        Binding("s", "pick_metric", "Rank by", id="ckpts.rank", tooltip="rank by a metric"),
        Binding("n", "natural", "Natural order", id="ckpts.natural", show=False,
                tooltip="by run and step"),
        Binding("r", "reverse", "Reverse", id="ckpts.reverse", show=False, tooltip="reverse the order"),
        Binding("d", "diff", "Diff", id="ckpts.diff", tooltip="compare two checkpoints' metadata and configs"),
        Binding("p", "probe", "Probe", id="ckpts.probe",
                tooltip="the same prompts to up to 4 checkpoints, side by side"),
        Binding("c", "collapse_scan", "Collapse scan", id="ckpts.collapse",
                tooltip="scan every checkpoint of the run for degenerate output"),
        Binding("x", "prune", "Prune", id="ckpts.prune", tooltip="delete all but the best k and the last (asks first)"),
        Binding("e", "export", "Export", id="ckpts.export", tooltip="verified GGUF of this checkpoint (asks first)"),
        Binding("E", "evaluate", "Evaluate", id="ckpts.evaluate", tooltip="one eval run of the selected checkpoints"),
        Binding("f5,ctrl+r", "refresh", "Rescan", id="ckpts.refresh", show=False, tooltip="read the runs dir again"),
    ]

    def __init__(self, runs_dir: Path | str | None = None, probe_tokens: int = 64) -> None:
        super().__init__(runs_dir)
        self.rows: list[CkptRow] = []  # every checkpoint folder, best and final included
        self.shown: list[CkptRow] = []  # one per checkpoint: best/final that copy one are its tags
        self.tags: dict[str, list[str]] = {}
        self.metric = "loss"
        self.ranked = False
        self.reverse = False
        self.selected: set[str] = set()
        self.collapse: dict[str, str] = {}
        self.probe_tokens = probe_tokens
        self.probe_result: ProbeResult | None = None
        self.disk: int | None = None  # bytes on disk, hard links counted once
        self._client: ProbeClient | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield DataTable(id="ck-table", cursor_type="row", zebra_stripes=True)
            yield Label("scanning…", id="ck-status")
            with VerticalScroll(id="ck-detail"):
                yield Static("space selects checkpoints · p probes them side by side · d diffs two · "
                             "c scans a run for collapse · x prunes a run", id="ck-help")
                yield Horizontal(id="ck-probe")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#ck-detail").border_title = "Details"
        self.query_one(DataTable).focus()
        self.action_refresh()

    def on_unmount(self) -> None:
        self._kill_probe()

    # -- data --------------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._scan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ckpts-scan")
    def _scan(self) -> None:
        rows = collect(self.runs_dir)
        self.app.call_from_thread(self._set_rows, rows)
        measure_sizes(rows)  # walks every folder: after the first paint
        usage = disk_usage(r.ckpt.path for r in rows)
        self.app.call_from_thread(self._sized, usage)

    @guarded()
    def _sized(self, usage: int) -> None:
        self.disk = usage
        self._fill()

    @guarded()
    def _set_rows(self, rows: list[CkptRow]) -> None:
        self.rows = rows
        self.shown, self.tags = fold_aliases(rows)
        keys = {r.key for r in self.shown}
        self.selected &= keys
        metrics = available_metrics(rows)
        if self.metric not in metrics and metrics:
            self.metric = metrics[0]
        self._fill()

    def ordered(self) -> list[CkptRow]:
        rows = rank(self.shown, self.metric) if self.ranked else natural_order(self.shown)
        return list(reversed(rows)) if self.reverse else rows

    def row(self, key: str) -> CkptRow | None:
        return next((r for r in self.rows if r.key == key), None)

    def cursor_row(self) -> CkptRow | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.row(str(key))

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        current = self.cursor_row()
        best = {r.key for r in best_per_run(self.shown, self.metric).values()}
        ranks = {r.key: i + 1 for i, r in enumerate(rank(self.shown, self.metric))
                 if r.metric(self.metric) is not None and r.ckpt.complete}
        cells = [(r.key, self._cells(r, best, ranks)) for r in self.ordered()]
        keys = [k for k, _ in COLUMNS if k != "metric" or self.metric not in SHOWN_METRICS]
        labels = {**dict(COLUMNS), "metric": self.metric}
        natural = {k: max([len(labels[k]), *(cell_len(c[k]) for _, c in cells)]) for k in keys}
        natural["note"] = min(natural["note"], NOTE_ROOM)  # the last column: a long error runs off the edge
        width = (self.size.width or self.app.size.width) - 1  # the table sizes to its content: the screen's
        shown, run_width = fit_columns(width, natural, DROP_ORDER, "run", RUN_MIN)
        table.clear(columns=True)
        for k in shown:
            table.add_column(labels[k], key=k, width=run_width if k == "run" else None)
        for key, c in cells:
            table.add_row(*(c[k] for k in shown), key=key)
        if current is not None:
            try:
                table.move_cursor(row=table.get_row_index(current.key))
            except Exception:  # the row is gone after a prune
                pass
        self._status()

    def _cells(self, r: CkptRow, best: set[str], ranks: dict[str, int]) -> dict[str, Any]:
        theme = self.app.current_theme
        mark = ("✓" if r.key in self.selected else " ") + ("★" if r.key in best else " ")
        state = Text(r.state, style={"complete": "green", "incomplete": "yellow"}.get(r.state, "bold red"))
        evals = {k: v for k, v in r.metrics().items() if k.startswith("eval_")}
        ev = next(iter(sorted(evals.items())), None)
        tags = self.tags.get(r.key, [])
        name = Text(r.name, overflow="ellipsis", no_wrap=True)
        if tags and tags != [r.name]:
            name.append("  " + " ".join(tags), style=f"bold {theme.accent or 'yellow'}")
        run = Text(r.run_id, overflow="ellipsis", no_wrap=True)
        return {"sel": mark, "rank": str(ranks.get(r.key, "")), "run": run, "checkpoint": name, "state": state,
                "step": "-" if r.step is None else str(r.step),
                "epoch": _fmt(r.epoch, 3), "loss": _fmt(r.metric("loss")), "acc": _fmt(r.metric("accuracy"), 3),
                "margins": _fmt(r.metric("margins"), 3), "eval": f"{ev[0][5:]}={ev[1]:.4g}" if ev else "-",
                "metric": _fmt(r.metric(self.metric)), "size": human_bytes(r.size), "age": human_age(r.age_s),
                "collapse": self.collapse.get(r.key, ""), "note": self._note(r)}

    def _note(self, r: CkptRow) -> str:
        note = r.ckpt.error or merge_note(r) or ""
        source = r.ckpt.meta.get("source")
        if isinstance(source, str) and not note:
            gone = "" if self.row(f"{r.run_id}/{source}") else " (no longer on disk)"
            note = f"copy of {source}{gone}"
        twins = same_as(r, self.shown)
        if twins and not note:
            note = "same step as " + ", ".join(twins)
        return note

    def on_resize(self) -> None:
        if self.rows:
            self._fill()

    def _status(self, extra: str = "") -> None:
        runs = len({r.run_id for r in self.rows})
        direction = "lower" if lower_is_better(self.metric) else "higher"
        order = f"ranked by {self.metric} ({direction} is better)" if self.ranked else f"★ best {self.metric}"
        n = len(self.shown)
        text = f"{n} checkpoint{'s' * (n != 1)} in {runs} run{'s' * (runs != 1)}"
        if self.disk is not None:
            text += f" · {human_bytes(self.disk)} on disk"
        text += f" · {order}"
        if self.selected:
            text += f" · {len(self.selected)} selected"
        self.query_one("#ck-status", Label).update(text + (f" · {extra}" if extra else ""))

    # -- selection and order -----------------------------------------------------------------------
    def action_toggle_select(self) -> None:
        r = self.cursor_row()
        if r is None:
            return
        self.selected ^= {r.key}
        self._fill()
        table = self.query_one(DataTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    async def action_back(self) -> None:
        """`esc` clears a selection first, then goes back."""
        if self.selected:
            self.selected.clear()
            self._fill()
            return
        await self.app.run_action("back")

    def action_pick_metric(self) -> None:
        from aba_tui.screens.pick import PickScreen

        metrics = available_metrics(self.rows) or ["loss"]

        def chosen(metric: str | None) -> None:
            if metric:
                self.metric, self.ranked, self.reverse = metric, True, False
                self._fill()

        self.app.push_screen(PickScreen("Rank checkpoints by", metrics, self.metric), chosen)

    def action_natural(self) -> None:
        self.ranked, self.reverse = False, False
        self._fill()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._fill()

    def targets(self, limit: int | None = None) -> list[CkptRow]:
        rows = [r for r in self.ordered() if r.key in self.selected]
        if not rows:
            cur = self.cursor_row()
            rows = [cur] if cur is not None else []
        return rows[:limit] if limit else rows

    # -- diff --------------------------------------------------------------------------------------
    def action_diff(self) -> None:
        rows = [r for r in self.ordered() if r.key in self.selected]
        cur = self.cursor_row()
        if len(rows) == 1 and cur is not None and cur.key != rows[0].key:
            rows.append(cur)
        if len(rows) != 2:
            self.notify("select two checkpoints (space) to diff", severity="warning")
            return
        self._diff(*rows)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ckpt-diff")
    def _diff(self, a: CkptRow, b: CkptRow) -> None:
        # Reads both checkpoints' configs and metadata: off the event loop (a network mount can be slow).
        changes, everything = diff(a, b), diff(a, b, only_changes=False)
        self.app.call_from_thread(self._show_diff, f"A = {a.key}   B = {b.key}", changes, everything)

    def _show_diff(self, title: str, changes: list, everything: list) -> None:
        from aba_tui.screens.checkpoint_dialogs import DiffScreen

        self.app.push_screen(DiffScreen(title, changes, everything))

    # -- probe and collapse scan (a worker process) -----------------------------------------------
    def action_probe(self) -> None:
        rows = [r for r in self.targets(MAX_PROBE) if r.ckpt.complete]
        if not rows:
            self.notify("no complete checkpoint to probe", severity="warning")
            return
        if len(self.selected) > MAX_PROBE:
            self.notify(f"probing the first {MAX_PROBE} selected", severity="warning")
        self._probe(rows, None, self.probe_tokens, "probe")

    def action_collapse_scan(self) -> None:
        cur = self.cursor_row()
        if cur is None:
            return
        rows = [r for r in self.rows if r.run_id == cur.run_id and r.ckpt.complete]
        if not rows:
            self.notify(f"{cur.run_id} has no complete checkpoint to scan", severity="warning")
            return
        self._probe(rows, None, min(48, self.probe_tokens), "collapse")

    def _kill_probe(self) -> None:
        if self._client is not None:
            self._client.stop()

    def _probe(self, rows: list[CkptRow], prompts: list[str] | None, tokens: int, mode: ProbeMode) -> None:
        self._kill_probe()  # one probe at a time: a new one replaces the running one
        self._client = client = ProbeClient([r.ckpt.path for r in rows], rows[0].run_dir, mode, prompts, tokens)
        self._status(f"{mode}: loading models for {len(rows)} checkpoint(s)…")
        self._run_probe(client)

    @work(thread=True, exit_on_error=False, group="ckpts-probe")
    def _run_probe(self, client: ProbeClient) -> None:
        # A worker thread: it only posts messages; the handlers below touch the widgets.
        try:
            result = client.run(lambda p: self.post_message(ProbeProgressed(client.mode, p)))
        except ProbeError as exc:
            self.post_message(ProbeFailed(client.mode, str(exc)))
            return
        self.post_message(ProbeFinished(result))

    @guarded()
    def on_probe_progressed(self, message: ProbeProgressed) -> None:
        p = message.progress
        self._status(f"{message.mode}: {p.done}/{p.total} done ({p.name})")

    @guarded()
    def on_probe_failed(self, message: ProbeFailed) -> None:
        self._status(message.error)
        if not message.error.endswith("stopped"):
            self.notify(message.error[:300], severity="error")

    @guarded()
    async def on_probe_finished(self, message: ProbeFinished) -> None:
        result = message.result
        mode, n = result.mode, len(result.prompts)
        for entry in result.entries:
            self.collapse[entry.key] = "error" if entry.error else (
                f"⚠ {entry.collapsed}/{n}" if entry.collapsed else f"ok 0/{n}")
        self._fill()
        box = self.query_one("#ck-probe", Horizontal)
        await box.remove_children()
        self.query_one("#ck-help").display = False
        cols = []
        for entry in result.entries[: MAX_PROBE if mode == "probe" else 8]:
            text = Text()
            text.append(f"{entry.key}\n", style="bold")
            if entry.error:
                text.append(entry.error + "\n", style="bold red")
            for a in entry.answers:
                text.append(f"» {a.prompt}\n", style="italic dim")
                text.append((a.answer or "(empty)") + "\n", style="red" if a.findings else "")
                if a.findings:
                    text.append("⚠ " + "; ".join(a.findings) + "\n", style="bold red")
            cols.append(Static(text, classes="probe-col"))
        await box.mount_all(cols)
        self.query_one("#ck-detail").border_title = f"{mode}: {result.path}"
        self._status(f"{mode} saved to {result.path.name}")
        self.probe_result = result  # last: what it shows is in place

    # -- prune and export --------------------------------------------------------------------------
    def action_prune(self) -> None:
        cur = self.cursor_row()
        if cur is None:
            return
        rows = [r for r in self.rows if r.run_id == cur.run_id]
        if any(r.size is None for r in rows):
            self.notify("still measuring sizes; try again in a moment", severity="warning")
            return
        from aba_tui.screens.checkpoint_dialogs import PruneScreen

        dialog = PruneScreen(rows, self.metric, keep_best=2)

        def confirmed(k: int | None) -> None:
            if k is not None:
                self._prune(dialog.plan)

        self.app.push_screen(dialog, confirmed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ckpts-prune")
    def _prune(self, plan: Any) -> None:
        try:
            freed = execute_prune(plan)
        except (OSError, ValueError) as exc:
            self.app.call_from_thread(self.notify, f"prune stopped: {exc}", severity="error")
            freed = None
        if freed is not None:
            self.app.call_from_thread(self.notify, f"pruned {len(plan.delete)} checkpoints of {plan.run_id}: "
                                      f"freed {human_bytes(freed)}")
        self.app.call_from_thread(self.action_refresh)

    def action_export(self) -> None:
        cur = self.cursor_row()
        if cur is None or not cur.ckpt.complete:
            self.notify("pick a complete checkpoint to export", severity="warning")
            return
        from aba_tui.screens.confirm import ConfirmScreen

        def go(yes: bool | None) -> None:
            if yes:
                self._launch_export(cur)

        self.app.push_screen(ConfirmScreen(f"Export {cur.key} to GGUF (q8_0, verified)?", "Export"), go)

    def action_evaluate(self) -> None:
        rows = [r for r in self.ordered() if r.key in self.selected] or [r for r in [self.cursor_row()] if r]
        rows = [r for r in rows if r.ckpt.complete]
        if not rows:
            self.notify("select complete checkpoints to evaluate", severity="warning")
            return
        self._launch_eval([(r.run_id, r.name, str(r.ckpt.meta.get("model_source") or "embedded")) for r in rows])

    @work(thread=True, exit_on_error=False, group="ckpts-eval")
    def _launch_eval(self, picks: list[tuple[str, str, str]]) -> None:
        from pipeline.errors import AbaError
        from pipeline.evaluate.launch import checkpoints_config
        from pipeline.runs.launcher import launch
        from pipeline.runs.store import RunStore

        try:
            run_id, _ = launch(RunStore(self.runs_dir), checkpoints_config(picks))
        except AbaError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, f"eval started: {run_id} ({len(picks)} checkpoint(s) + baseline)")

    @work(thread=True, exit_on_error=False, group="ckpts-export")
    def _launch_export(self, row: CkptRow) -> None:
        from pipeline.config.run import build_config
        from pipeline.errors import AbaError
        from pipeline.runs.launcher import launch
        from pipeline.runs.store import RunStore

        try:
            cfg = build_config("export", sets=[f"model.source={run_ref(row.run_id)}", f"export.checkpoint={row.name}"])
            run_id, _ = launch(RunStore(self.runs_dir), cfg)
        except AbaError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, f"export started: {run_id}")
