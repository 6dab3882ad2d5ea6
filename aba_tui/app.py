"""The ABA control centre app: wiring only (screens, panes, model and telemetry live in their modules).

The app owns the runs model, the telemetry and the settings, and hands them to the screens it builds;
screens hand them on to their panes, and both talk back with messages (``DashboardScreen.RunSelected``),
so nothing below imports this module.

Two long-lived worker threads feed the UI: the run watcher (``RunsModel.poll_once``) and the
telemetry sampler. They post small "something changed" messages that coalesce (``can_replace``),
and the handlers pull the accumulated changes, so a burst of events is one repaint and the event
loop never reads a file. Run control (launch, stop, resume) runs in short worker threads too; the
runs are detached supervisors, so quitting the app leaves every run going.
"""

from __future__ import annotations

from aba_tui.startup import pause_collector, resume_collector

pause_collector()  # before Textual's imports: resumed after the first frame (aba_tui/startup.py)

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from aba_tui.errors import guarded
from aba_tui.run_actions import RunActions
from aba_tui.screens import SCREENS, load_screen_class
from aba_tui.screens.sub import SubScreen
from aba_tui.settings import DEFAULT_THEME, PANES, Settings, check_keymap, load_settings, save_theme
from aba_tui.themes import load_themes
from pipeline.config.paths import resolve_runs_dir
from pipeline.errors import AbaError, ConfigError
from pipeline.monitor.runs_model import RunsModel
from pipeline.monitor.telemetry import Snapshot, Telemetry
from pipeline.runs.layout import STATUS_FILE
from pipeline.runs.status import ACTIVE
from pipeline.runs.store import RunStore

if TYPE_CHECKING:
    from aba_tui.screens.dashboard import DashboardScreen


def home_short(path: Path) -> str:
    """An absolute path as the title shows it: under $HOME as ``~/…`` (short in narrow terminals, and still
    one folder wherever the app was started)."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) and path != home else str(path)


class ModelChanged(Message):
    """The watcher found changes; the handler takes them from the model (so these coalesce)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ModelChanged)


class TelemetrySampled(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TelemetrySampled)


def _mode_factory(name: str) -> Callable[[], Screen[Any]]:
    return lambda: load_screen_class(name)()


class AbaApp(RunActions):
    TITLE = "ABA Control Centre"
    CSS_PATH = Path(__file__).parent / "app.tcss"
    DEFAULT_MODE = "dashboard"
    # The dashboard is built with the app's data, so it is added per app (in __init__).
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        name: _mode_factory(name) for name in SCREENS if name != "dashboard"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "request_quit", "Quit", id="app.quit", tooltip="asks first while runs are active"),
        Binding("question_mark", "help", "Keys", id="app.help", key_display="?",
                tooltip="this list: the focused pane's keys first"),
        Binding("o", "open_path", "Open", id="app.open", show=False,
                tooltip="a run folder or a foreign log (trainer_state.json, TensorBoard, JSONL)"),
        Binding("T", "pick_theme", "Theme", id="app.theme", show=False, tooltip="pick a colour theme (remembered)"),
        *[Binding(e.key, f"goto('{name}')", e.title, id=f"app.goto-{name}", show=False, tooltip=e.description)
          for name, e in SCREENS.items() if e.key],
    ]

    selected_run: reactive[str | None] = reactive(None)

    def __init__(self, runs_dir: Path | str | None = None, settings: Settings | None = None,
                 open_path: Path | None = None, x_field: str | None = None, theme: str | None = None,
                 telemetry: Telemetry | None = None, clock: Callable[[], float] = time.time,
                 select_run: str | None = None) -> None:
        self.settings = settings or load_settings()
        self.theme_specs, theme_errors = load_themes()
        super().__init__()
        self.clock = clock
        root = resolve_runs_dir(runs_dir, configured=self.settings.runs_dir)
        self.store = RunStore(Path(root))
        s = self.settings
        self.model = RunsModel(self.store, s.alerts.thresholds(), tail_lines=s.runs.tail_lines,
                               full_history_bytes=int(s.runs.full_history_mb * 2**20),
                               history_bytes=int(s.runs.history_mb * 2**20), scan_s=s.runs.scan_s,
                               clock=clock, announce_lost=True)
        self._quitting = threading.Event()  # ends the telemetry sampler's wait between samples
        self.telemetry = telemetry or Telemetry(history_s=s.telemetry.history_minutes * 60,
                                                interval_s=s.telemetry.interval_s, disk_path=self.store.root)
        self._select_at_start = select_run  # for the dashboard, once it is built
        self._trail: list[str] = []  # the modes `esc` goes back through
        self._open_at_start = (open_path, x_field)
        self._startup_errors = theme_errors
        for spec in self.theme_specs.values():
            self.register_theme(spec.theme)
        wanted = theme or s.theme
        if wanted == DEFAULT_THEME and wanted not in self.available_themes:
            # An install without its theme files: Textual's own dark theme, and say so.
            self._startup_errors.append(
                f"theme {DEFAULT_THEME!r} not found (no aba_tui/theme_files/?): using textual-dark")
            wanted = "textual-dark"
        if wanted not in self.available_themes:
            where = "--theme" if theme else f"{s.path}: theme"
            raise ConfigError(f"{where}={wanted!r}: unknown theme (available: {', '.join(sorted(self.theme_specs))}, "
                              "or a Textual theme)")
        self.theme = wanted
        # After it the dashboard builds its other panes (DashboardScreen.build_panes) and a theme change is the
        # operator's, to remember (the theme set here is not).
        self.first_frame_shown = False
        self.add_mode("dashboard", self._new_dashboard)
        if s.keymap:  # checking ids imports every pane: only when there is something to check
            check_keymap(s, self.binding_ids())
            self.set_keymap(s.keymap)

    # -- set-up ----------------------------------------------------------------------------------
    @classmethod
    def binding_ids(cls) -> dict[str, str]:
        """Every binding id the user may re-map, with its default keys."""
        from aba_tui.panes.alerts import AlertsTable
        from aba_tui.panes.charts_pane import ChartsPane
        from aba_tui.panes.logs import LogView
        from aba_tui.panes.metric_chart import MetricChart
        from aba_tui.panes.runs import RunsTable
        from aba_tui.panes.telemetry import TelemetryPane
        from aba_tui.screens.dashboard import DashboardScreen

        out: dict[str, str] = {}
        for owner in (cls, DashboardScreen, SubScreen, RunsTable, ChartsPane, MetricChart, LogView, TelemetryPane,
                      AlertsTable):
            for b in owner.BINDINGS:
                if isinstance(b, Binding) and b.id:
                    out[b.id] = b.key
        return out

    def on_mount(self) -> None:
        self.sub_title = home_short(self.store.root)
        for err in self._startup_errors:
            self.notify(err, severity="error", timeout=10)
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        resume_collector()
        self.first_frame_shown = True
        for dash in self._dashboards():  # its panes after the runs list: built now, not before the first frame
            await dash.build_panes()
        path, x_field = self._open_at_start
        if path is not None:
            self.open_path(Path(path), x_field)
        self._watch_runs()
        self._sample_telemetry()

    def _new_dashboard(self) -> DashboardScreen:
        from aba_tui.screens.dashboard import DashboardScreen

        select, self._select_at_start = self._select_at_start, None
        palettes = {name: spec.chart_colors for name, spec in self.theme_specs.items()}
        return DashboardScreen(self.model, self.telemetry, self.settings, palettes, clock=self.clock, select=select)

    def _remember_theme(self, theme: Any) -> None:
        if self.first_frame_shown and self.settings.path is not None and theme.name != self.settings.theme:
            self.settings.theme = theme.name
            self._save_theme(self.settings.path, theme.name)

    @work(thread=True, exit_on_error=False, group="config")
    def _save_theme(self, path: Path, name: str) -> None:
        save_theme(path, name)

    # -- background threads ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="watch")
    def _watch_runs(self) -> None:
        worker = get_current_worker()
        model = self.model
        poll = self.settings.runs.poll_s
        while not worker.is_cancelled:
            if model.poll_once():
                self.post_message(ModelChanged())
            if not model.backlog:
                model.wake.wait(poll)
                model.wake.clear()

    @work(thread=True, exclusive=True, exit_on_error=False, group="telemetry")
    def _sample_telemetry(self) -> None:
        worker = get_current_worker()
        interval = self.telemetry.interval_s
        # The first sample maps GPU processes to runs: let the watcher list the runs first.
        deadline = time.monotonic() + 5.0
        while self.model.passes == 0 and not worker.is_cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        while not worker.is_cancelled:
            started = time.monotonic()
            snap = self.telemetry.sample(self.model.run_pids())
            self.model.check_gpu(snap, self.telemetry)
            self.post_message(TelemetrySampled(snap))
            # Wait out the interval in ≤ 0.5 s steps: an app that exits without action_quit (a test's
            # run_test, a crash) only cancels the worker, and its executor waits for this thread.
            while not worker.is_cancelled and (left := interval - (time.monotonic() - started)) > 0:
                self._quitting.wait(min(0.5, left))

    @guarded("runs watcher")
    def on_model_changed(self, _message: ModelChanged) -> None:
        changes = self.model.take_changes()
        alerts = changes.alerts
        for screen in self._dashboards():
            screen.model_changed(changes)
        # Toasts for what needs the operator now: runs that ended badly, GPU conditions, anything on an
        # active run. Alerts found while browsing old runs go to the alerts pane and the row mark only.
        alerts = [a for a in alerts if self._toast_worthy(a)]
        if alerts and self.settings.alerts.notify:
            for a in alerts[:3]:
                self.notify(a.message, title=a.code, severity="error" if a.level == "error" else "warning",
                            timeout=8)
            if len(alerts) > 3:
                self.notify(f"and {len(alerts) - 3} more alerts (see the alerts pane)", severity="warning")
        errors = [a for a in alerts if a.level == "error"]
        if errors:
            self.ring(errors[0].code, errors[0].message + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))

    def ring(self, title: str, body: str) -> None:
        """The terminal bell and a desktop notification escape, as [notify] bell / desktop say."""
        from aba_tui.desktop import desktop_escape

        cfg = self.settings.notify
        if cfg.bell:
            self.bell()
        escape = desktop_escape(f"aba {title}", body, cfg.desktop)
        if escape and self._driver is not None:
            self._driver.write(escape)

    def _toast_worthy(self, alert: Any) -> bool:
        if alert.code.startswith("run_") or alert.code in ("gpu_starved", "vram_high"):
            return True
        entry = self.model.entry(alert.run_id or "")
        return entry is not None and (entry.active or entry.kind == "foreign")

    @guarded("telemetry")
    def on_telemetry_sampled(self, message: TelemetrySampled) -> None:
        for screen in self._dashboards():
            screen.telemetry_sampled(message.snapshot)

    def _dashboards(self, mounted: bool = True) -> Iterable[DashboardScreen]:
        from aba_tui.screens.dashboard import DashboardScreen

        for stack in self._screen_stacks.values():
            for screen in stack:
                if isinstance(screen, DashboardScreen) and (screen.is_mounted or not mounted):
                    yield screen

    def dashboard(self) -> DashboardScreen | None:
        return next(iter(self._dashboards()), None)

    def on_dashboard_screen_run_selected(self, message: DashboardScreen.RunSelected) -> None:
        self.selected_run = message.run_id

    def select_when_listed(self, run_id: str) -> None:
        """Highlight ``run_id`` on the dashboard as soon as the watcher lists it."""
        dashboards = list(self._dashboards(mounted=False))  # one built but not yet mounted takes it on mount
        for dash in dashboards:
            dash.select_when_listed(run_id)
        if not dashboards:
            self._select_at_start = run_id

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one error handler of every worker: say what failed; keep the long-lived loops alive."""
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        self.notify(f"{worker.group}: {type(worker.error).__name__}: {worker.error}", severity="error", timeout=10)
        restart = {"watch": self._watch_runs, "telemetry": self._sample_telemetry}.get(worker.group)
        if restart is not None:
            self.set_timer(2.0, restart)

    def action_request_quit(self) -> None:
        """`q`: quit, asking first while runs are active (they keep going: detached supervisors)."""
        active = [r.run_id for r in self.model.rows() if r.state in ACTIVE]
        if not active:
            self.run_worker(self.action_quit(), group="nav")
            return
        from aba_tui.screens.confirm import ConfirmScreen

        runs = "\n".join(f"  {r}" for r in active[:5]) + (f"\n  and {len(active) - 5} more" if len(active) > 5 else "")
        them = "They keep" if len(active) > 1 else "It keeps"
        question = (f"Quit the control centre? Still active:\n{runs}\n"
                    f"{them} going in the background; aba shows {'them' if len(active) > 1 else 'it'} again.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self.action_quit(), group="nav")

        self.push_screen(ConfirmScreen(question, "Quit"), answered)

    async def action_quit(self) -> None:
        # Runs are detached supervisors: leaving stops only our threads.
        self.workers.cancel_all()
        self.model.wake.set()
        self._quitting.set()
        self.exit()

    # -- navigation --------------------------------------------------------------------------------
    async def action_goto(self, name: str, remember: bool = True) -> None:
        left = self.current_mode
        if name == left:
            return
        leaving = list(self.screen_stack)
        try:
            await self.switch_mode(name)
        except Exception as exc:  # a screen that fails to import must not take the app down
            self.notify(f"cannot open {name}: {type(exc).__name__}: {exc}", severity="error")
            return
        # The trail `esc` walks back: going to a screen already on it cuts it there (no loops).
        if name in self._trail:
            del self._trail[self._trail.index(name):]
        elif remember:
            self._trail.append(left)
        if name == "dashboard":
            self._trail.clear()
        for screen in leaving:
            if isinstance(screen, SubScreen):
                screen.left()

    async def action_back(self) -> None:
        """`esc` / `q` on a screen: close a screen opened over it, else go where the operator came from."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
            return
        if self.current_mode != "dashboard":
            await self.action_goto(self._trail.pop() if self._trail else "dashboard", remember=False)

    def action_help(self) -> None:
        from aba_tui.screens.help import HelpScreen, help_markdown

        self.push_screen(HelpScreen(help_markdown(self.screen)))

    def action_pick_theme(self) -> None:
        from aba_tui.screens.pick import PickScreen

        names = sorted(self.theme_specs) + sorted(n for n in self.available_themes if n not in self.theme_specs)

        def chosen(name: str | None) -> None:
            if name:
                self.theme = name

        self.push_screen(PickScreen("Theme", names, self.theme), chosen)

    def action_toggle_pane(self, name: str) -> None:
        dash = self.dashboard()
        if dash is not None:
            dash.action_toggle_pane(name)

    def action_chart(self, action: str) -> None:
        dash = self.dashboard()
        if dash is not None:
            from aba_tui.panes.charts_pane import ChartsPane

            if not dash.built:
                return  # a key in the first frame's few milliseconds
            pane = dash.query_one(ChartsPane)
            {"more": lambda: pane.action_smooth(1), "less": lambda: pane.action_smooth(-1),
             "window": pane.action_cycle_window, "eval": pane.action_toggle_eval}[action]()

    # -- opening runs and logs ---------------------------------------------------------------------
    def open_path(self, path: Path, x_field: str | None = None) -> str | None:
        """Show a run folder or a foreign log; returns its row id."""
        from pipeline.monitor.foreign import ForeignError, detect

        path = Path(path).expanduser()
        if (path / STATUS_FILE).is_file():
            rid = self.model.add_run_folder(path) if path.resolve().parent != self.store.root.resolve() else path.name
        else:
            try:
                rid = self.model.add_foreign(detect(path, x_field))
            except ForeignError as exc:
                self.notify(str(exc), severity="error", timeout=10)
                return None
        self.select_when_listed(rid)
        self.model.wake.set()
        return rid

    def action_open_path(self) -> None:
        from aba_tui.screens.open_path import OpenPathScreen

        def chosen(result: tuple[Path, str | None] | None) -> None:
            if result:
                self.open_path(*result)

        self.push_screen(OpenPathScreen(), chosen)

    def action_pick_x(self) -> None:
        """Re-pick the x field of the selected foreign JSONL."""
        entry = self.model.entry(self.selected_run or "")
        if entry is None or entry.reader is None or entry.reader.kind != "jsonl":
            self.notify("select an opened JSONL log first", severity="warning")
            return
        from aba_tui.screens.pick import PickScreen
        from pipeline.monitor.foreign import LINE

        reader = entry.reader

        def chosen(x: str | None) -> None:
            if x and x != reader.x_field:
                self.model.remove(entry.run_id)
                self.open_path(reader.path, x)

        self.push_screen(PickScreen(f"x field for {reader.label}", [*reader.fields, LINE], reader.x_field), chosen)

    # -- command palette ---------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for cmd in self._system_commands(screen):  # a failing command reports, like a failing key
            yield cmd._replace(callback=self.call_guarded(cmd.callback, cmd.title))

    def _system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        run = f" ({self.selected_run})" if self.selected_run else ""
        yield SystemCommand("New run", "Launch a stage or preset from a form", self.action_launch)
        yield SystemCommand("Stop run" + run, "SIGTERM: save a checkpoint and exit (asks first)", self.action_stop_run)
        yield SystemCommand("Stop run now" + run, "Stop with no grace period (asks first)", self.action_kill_run)
        yield SystemCommand("Resume run" + run, "Relaunch from the last complete checkpoint", self.action_resume_run)
        yield SystemCommand("Relaunch run" + run, "Start a new run with the same run.toml", self.action_relaunch_run)
        yield SystemCommand("Open logs" + run, "The run's stdout/stderr/events full screen", self.action_open_logs)
        yield SystemCommand("Run details" + run, "Config, peak RAM/CPU/VRAM, best metrics, note and tags (key i)",
                            self.action_run_details)
        yield SystemCommand("Compare runs", "Pinned runs and the highlighted one side by side (key C)",
                            self.action_compare_runs)
        yield SystemCommand("New run like this" + run, "The launch form prefilled with its config (key N)",
                            self.action_launch_like)
        yield SystemCommand("Pin / unpin run" + run, "Overlay the run on the charts", self.action_pin)
        yield SystemCommand("Open path…", "A run folder, trainer_state.json, HF output dir or JSONL log",
                            self.action_open_path)
        yield SystemCommand("Pick x field", "For an opened JSONL log: the field charts use as x", self.action_pick_x)
        for i, name in enumerate(PANES):
            yield SystemCommand(f"Toggle pane: {name}", f"Show or hide the {name} pane (key {i + 1})",
                                lambda n=name: self.action_toggle_pane(n))
        yield SystemCommand("Charts: more smoothing", "EMA weight up (key ])", lambda: self.action_chart("more"))
        yield SystemCommand("Charts: less smoothing", "EMA weight down (key [)", lambda: self.action_chart("less"))
        yield SystemCommand("Charts: step window", "All steps, last 10k, 1k, 100 (key w)",
                            lambda: self.action_chart("window"))
        yield SystemCommand("Charts: eval points", "Show or hide eval_<metric> points (key e)",
                            lambda: self.action_chart("eval"))
        for name in sorted(self.theme_specs):
            yield SystemCommand(f"Theme: {name}", "Switch theme (remembered in the config)",
                                lambda n=name: setattr(self, "theme", n))
        for name, entry in SCREENS.items():
            yield SystemCommand(f"Go to {entry.title}", entry.description, lambda n=name: self.run_worker(
                self.action_goto(n), group="nav"))
        yield SystemCommand("Help", "Keys and help of the focused pane (key ?)", self.action_help)


def run_app(runs_dir: Path | None = None, open_path: Path | None = None, theme: str | None = None,
            x_field: str | None = None, select_run: str | None = None) -> int:
    """Entry point of `aba` / `aba ui` / `aba open PATH`. Bad config or path: one line, no UI."""
    settings = load_settings()
    if open_path is not None:
        from pipeline.monitor.foreign import detect

        p = Path(open_path).expanduser()
        if not (p / STATUS_FILE).is_file():
            detect(p, x_field)  # raises ForeignError naming the path and the expected forms
    try:
        app = AbaApp(runs_dir=runs_dir, settings=settings, open_path=open_path, x_field=x_field, theme=theme,
                     select_run=select_run)
    except AbaError:
        raise
    try:
        app.run()
    finally:
        resume_collector()  # a start that never drew its first frame
    return 0
