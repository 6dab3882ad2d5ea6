"""Launch a stage or preset from a form built from the config schema.

Each field comes from ``pipeline.config.run.section_fields`` (type, default, help, choices, bounds);
values are checked with the same ``coerce`` the CLI uses as they are typed, and the whole config
with ``validate_paths`` before anything starts, so the errors read exactly like ``aba run``'s.
The screen is handed the runs dir the run will be created in (its preflight looks ``run:<id>`` sources up
there) and returns a validated RunConfig; the app launches it from a worker thread.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch

from aba_tui.errors import guarded
from pipeline import registry
from pipeline.config.fields import FieldInfo, coerce
from pipeline.config.run import (
    RunConfig,
    build_config,
    list_presets,
    preset_path,
    read_toml,
    section_fields,
    validate_paths,
)
from pipeline.errors import AbaError, ConfigError

LIKE = "like"


def stage_helps() -> dict[str, str]:
    return {name: st.help for name, st in registry.stages().items()}


def choices() -> list[tuple[str, str]]:
    out = [(f"stage  {name:<9} {desc}", f"stage:{name}") for name, desc in stage_helps().items()]
    for name, path in list_presets().items():
        try:
            desc = str(read_toml(path).get("description", ""))
        except ConfigError:
            desc = "(unreadable preset)"
        out.append((f"preset {name:<9} {desc}", f"preset:{name}"))
    return out


def base_config(what: str) -> RunConfig:
    kind, _, name = what.partition(":")
    if kind == "preset":
        return build_config(None, [preset_path(name)], check_paths=False)
    return build_config(name, [], check_paths=False)


def show_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


class LaunchScreen(ModalScreen[RunConfig | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="launch.cancel"),
        Binding("ctrl+s", "submit", "Launch", id="launch.submit"),
    ]

    def __init__(self, what: str | None = None, *, runs_dir: Path,
                 prefill: tuple[RunConfig, str] | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir  # where the run will be created: its run:<id> sources are looked up there
        self.options = choices()
        # "New run like this": another run's config (and its id), offered as the first choice.
        self.prefill = prefill
        if prefill is not None:
            self.options.insert(0, (f"like   {prefill[1]}", LIKE))
            what = LIKE
        self.what = what or self.options[0][1]
        self.base: RunConfig | None = None
        self._invalid: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog launch-dialog"):
            yield Label("Launch a run" + (f" like {self.prefill[1]}" if self.prefill else ""),
                        classes="dialog-title")
            yield Select(self.options, value=self.what, allow_blank=False, id="what")
            yield VerticalScroll(id="fields")
            yield Static("", id="launch-error")
            with Horizontal(classes="buttons"):
                yield Button("Launch (ctrl+s)", variant="primary", id="launch")
                yield Button("Cancel (esc)", id="cancel")

    async def on_mount(self) -> None:
        await self._build_fields()

    @guarded()
    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "what" and event.value != self.what:
            self.what = str(event.value)
            await self._build_fields()

    async def _build_fields(self) -> None:
        box = self.query_one("#fields", VerticalScroll)
        await box.remove_children()
        self._invalid.clear()
        self._error("")
        try:
            self.base = self._base()
        except AbaError as exc:
            self.base = None
            self._error(str(exc))
            return
        widgets: list[Widget] = []
        for section, obj in self.base.sections.items():
            widgets.append(Label(f"[{section}]", classes="section-title"))
            for f in section_fields(section):
                value = getattr(obj, f["name"])
                wid = f"f-{section}-{f['name']}"
                choices = f["choices"]
                if choices:
                    w: Any = Select([(c, c) for c in choices], value=value, allow_blank=False, id=wid)
                elif f["type"] == "bool":
                    w = Switch(value=bool(value), id=wid)
                else:
                    w = Input(show_value(value), id=wid)
                w.tooltip = f["help"]
                row = Horizontal(Label(f["name"], classes="field-name"), w, classes="field")
                widgets += [row, Static(f["help"], classes="field-help")]
        await box.mount_all(widgets)

    def _base(self) -> RunConfig:
        if self.what == LIKE and self.prefill is not None:
            cfg = copy.deepcopy(self.prefill[0])
            cfg.parent, cfg.after = None, []  # a new run of its own, not a chained child
            return cfg
        return base_config(self.what)

    def _error(self, text: str) -> None:
        self.query_one("#launch-error", Static).update(text)
        self.query_one("#launch-error").set_class(bool(text), "-error")

    def _field_meta(self, section: str, key: str) -> FieldInfo:
        return next(f for f in section_fields(section) if f["name"] == key)

    @guarded()
    def on_input_changed(self, event: Input.Changed) -> None:
        wid = event.input.id or ""
        if not wid.startswith("f-"):
            return
        _f, section, key = wid.split("-", 2)
        meta = self._field_meta(section, key)
        was_invalid = wid in self._invalid
        try:
            coerce(event.value, meta["type"], meta, f"{section}.{key}")
            event.input.remove_class("-invalid")
            self._invalid.pop(wid, None)
        except ConfigError as exc:
            event.input.add_class("-invalid")
            self._invalid[wid] = str(exc)
        # Show the first field still wrong; a field that was fine and still is leaves the message alone
        # (it may be the whole-config check's).
        if self._invalid:
            self._error(next(iter(self._invalid.values())))
        elif was_invalid:
            self._error("")

    def collect(self) -> RunConfig:
        """The form's values applied to the base config and validated (raises ConfigError)."""
        if self.base is None:
            raise ConfigError(f"{self.what}: no base config")
        cfg = self._base()
        for section, obj in cfg.sections.items():
            for f in section_fields(section):
                w = self.query_one(f"#f-{section}-{f['name']}")
                raw: Any
                if isinstance(w, Switch | Select | Input):
                    raw = w.value
                else:  # _build_fields makes only these three
                    raise TypeError(f"launch form: {section}.{f['name']}: unexpected widget {type(w).__name__}")
                value = coerce(raw, f["type"], f, f"launch form: {section}.{f['name']}")
                setattr(obj, f["name"], value)
        validate_paths(cfg)
        return cfg

    def action_submit(self) -> None:
        try:
            cfg = self.collect()
        except AbaError as exc:
            self._error(str(exc))
            self._mark_invalid(str(exc))
            return
        self._error("checking the data…")
        self._preflight(cfg)

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch-check")
    def _preflight(self, cfg: RunConfig) -> None:
        """The checks `aba run` makes (dataset rows, GRPO groups) before anything starts; they read
        the dataset, so off the event loop."""
        from pipeline.train.preflight import preflight_chain

        try:
            preflight_chain(cfg, self.runs_dir)
        except (AbaError, OSError) as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self.dismiss, cfg)

    def _refused(self, message: str) -> None:
        self._error(message)
        self._mark_invalid(message)

    def _mark_invalid(self, message: str) -> None:
        for w in self.query("#fields Input"):
            _f, section, key = (w.id or "f--").split("-", 2)
            if f"{section}.{key}" in message:
                w.add_class("-invalid")
                w.focus()

    @guarded()
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_submit()
        else:
            self.dismiss(None)
