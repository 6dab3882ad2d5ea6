"""Run control from the UI: launch, stop, stop now, resume, relaunch, open logs, pin.

Each action works on the highlighted run, asks before anything destructive, and calls
``pipeline.runs.launcher`` from a worker thread (it spawns a detached supervisor, which can take a
moment). Results and errors come back as notifications; the run list shows the new state on
the watcher's next pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.screen import Screen

from aba_tui.errors import GuardedApp
from pipeline.errors import AbaError
from pipeline.runs.store import load_run_config

if TYPE_CHECKING:
    from pipeline.config.run import RunConfig
    from pipeline.monitor.entries import RunEntry
    from pipeline.monitor.runs_model import RunsModel
    from pipeline.runs.store import RunStore


class RunActions(GuardedApp[None]):
    """The App's run-control actions (a base class of AbaApp, which sets these attributes)."""

    model: RunsModel
    store: RunStore
    selected_run: str | None

    def dashboard(self) -> Screen[Any] | None:
        """The mounted dashboard screen, if any (AbaApp knows how to find it)."""
        return None

    def select_when_listed(self, run_id: str) -> None:
        """Highlight ``run_id`` on the dashboard once the watcher lists it (AbaApp tells the dashboard)."""

    def _selected_entry(self, need: str = "run") -> RunEntry | None:
        entry = self.model.entry(self.selected_run or "")
        if entry is None:
            self.notify("no run selected", severity="warning")
            return None
        if need == "run" and entry.kind != "run":
            self.notify(f"{entry.label} is an opened log, not a run", severity="warning")
            return None
        return entry

    # -- launch --------------------------------------------------------------------------------
    def action_launch(self, what: str | None = None) -> None:
        from aba_tui.screens.launch import LaunchScreen

        def chosen(cfg: RunConfig | None) -> None:
            if cfg is not None:
                self._launch(cfg)

        self.push_screen(LaunchScreen(what, runs_dir=self.store.root), chosen)

    @work(thread=True, exit_on_error=False, group="control")
    def _launch(self, cfg: RunConfig) -> None:
        self._do_launch(cfg)

    def _do_launch(self, cfg: RunConfig) -> None:
        from pipeline.runs import launcher  # spawns processes: loaded on first use, not at start

        try:
            run_id, _path = launcher.launch(self.store, cfg)
        except (AbaError, OSError) as exc:
            self.call_from_thread(self.notify, f"launch failed: {exc}", severity="error")
            return
        self.call_from_thread(self.select_when_listed, run_id)
        self.model.wake.set()
        self.call_from_thread(self.notify, f"launched {run_id}", title="run started")

    # -- stop ----------------------------------------------------------------------------------
    def action_stop_run(self) -> None:
        self._ask_stop(grace=None)

    def action_kill_run(self) -> None:
        self._ask_stop(grace=0.0)

    def _ask_stop(self, grace: float | None) -> None:
        from aba_tui.screens.confirm import ConfirmScreen

        entry = self._selected_entry()
        if entry is None:
            return
        if not entry.active:
            self.notify(f"{entry.run_id} is not running (state {entry.state})", severity="warning")
            return
        if grace is None:
            question = (f"Stop {entry.run_id}?\nThe worker saves a checkpoint and exits "
                        "(killed after supervisor.grace_seconds).")
            yes = "Stop"
        else:
            question = f"Stop {entry.run_id} NOW?\nNo grace period: the worker is killed without a checkpoint."
            yes = "Kill"

        def answered(ok: bool | None) -> None:
            if ok:
                self._stop(str(entry.path), grace)

        self.push_screen(ConfirmScreen(question, yes), answered)

    @work(thread=True, exit_on_error=False, group="control")
    def _stop(self, ref: str, grace: float | None) -> None:
        from pipeline.runs import launcher

        try:
            run_id = launcher.stop(self.store, ref, grace)
        except (AbaError, OSError) as exc:
            self.call_from_thread(self.notify, f"stop failed: {exc}", severity="error")
            return
        self.model.wake.set()
        self.call_from_thread(self.notify, f"{run_id}: stop requested")

    # -- resume / relaunch -----------------------------------------------------------------------
    def action_resume_run(self) -> None:
        entry = self._selected_entry()
        if entry is not None:
            self._resume(str(entry.path))

    @work(thread=True, exit_on_error=False, group="control")
    def _resume(self, ref: str) -> None:
        from pipeline.runs import launcher

        try:
            run_id = launcher.resume(self.store, ref)
        except (AbaError, OSError) as exc:
            self.call_from_thread(self.notify, f"resume failed: {exc}", severity="error")
            return
        self.model.wake.set()
        self.call_from_thread(self.notify, f"{run_id}: resuming")

    def action_relaunch_run(self) -> None:
        entry = self._selected_entry()
        if entry is not None:
            self._from_run_toml(entry.path, form=False)

    def action_launch_like(self) -> None:
        """The launch form prefilled with the highlighted run's config (its run.toml)."""
        entry = self._selected_entry()
        if entry is not None:
            self._from_run_toml(entry.path, form=True)

    @work(thread=True, exit_on_error=False, group="control")
    def _from_run_toml(self, path: Any, form: bool) -> None:
        """A new run from a run's run.toml: at once (relaunch), or through the launch form."""
        try:
            cfg = load_run_config(path)
        except (AbaError, OSError) as exc:
            self.call_from_thread(self.notify, f"{'cannot read' if form else 'relaunch failed:'} {exc}",
                                  severity="error")
            return
        if form:
            self.call_from_thread(self._open_launch_like, cfg, path.name)
        else:
            self._do_launch(cfg)

    def _open_launch_like(self, cfg: RunConfig, run_id: str) -> None:
        from aba_tui.screens.launch import LaunchScreen

        def chosen(new: RunConfig | None) -> None:
            if new is not None:
                self._launch(new)

        self.push_screen(LaunchScreen(runs_dir=self.store.root, prefill=(cfg, run_id)), chosen)

    # -- views -----------------------------------------------------------------------------------
    def action_run_details(self) -> None:
        from aba_tui.screens.run_details import RunDetailsScreen

        entry = self._selected_entry()
        if entry is not None:
            self.push_screen(RunDetailsScreen(entry.path))

    def action_compare_runs(self) -> None:
        """The pinned runs and the highlighted one side by side; with none pinned, every run of the
        highlighted one's stage (runs of different stages share few hyper-parameters)."""
        from aba_tui.screens.compare import CompareScreen

        dash = self.dashboard()
        ids = list(getattr(dash, "pinned", []) or [])
        if self.selected_run and self.selected_run not in ids:
            ids.append(self.selected_run)
        entries = [e for e in (self.model.entry(i) for i in ids) if e is not None and e.kind == "run"]
        if len(entries) < 2:
            stage = next((r.stage for r in self.model.rows() if r.run_id == self.selected_run), None)
            entries = [e for e in (self.model.entry(r.run_id) for r in self.model.rows() if r.stage == stage)
                       if e is not None and e.kind == "run"]
        if len(entries) < 2:
            self.notify("nothing to compare: pin runs with space (or have two runs of this stage)",
                        severity="warning")
            return
        self.push_screen(CompareScreen([e.path for e in entries]))

    def action_open_logs(self) -> None:
        from aba_tui.screens.logs import LogScreen

        entry = self._selected_entry(need="any")
        if entry is None:
            return
        if entry.kind == "foreign":
            path = entry.reader.path if entry.reader is not None else entry.path
            self.push_screen(LogScreen(None, entry.label, path if path.is_file() else None))
        else:
            self.push_screen(LogScreen(entry.path, entry.run_id))

    def action_pin(self) -> None:
        dash = self.dashboard()
        if dash is not None:
            from aba_tui.panes.runs import RunsTable

            dash.query_one(RunsTable).action_toggle_pin()
