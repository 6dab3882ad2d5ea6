"""The user config of the control centre: ``$XDG_CONFIG_HOME/aba/config.toml`` (or ``$ABA_CONFIG``).

Plain dataclasses with the same ``opt`` metadata as the run schema, validated by the same
``coerce``, so a bad value reads like any other config error: file, key, value, expected form.
Only ``theme`` is ever written back (when the user switches theme), by editing that one line so
the user's comments and layout survive.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_text
from pipeline.config.fields import coerce, field_type, opt
from pipeline.config.paths import user_config_path
from pipeline.errors import ConfigError
from pipeline.monitor.alerts import Thresholds
from pipeline.runs.notify import NotifyConfig, parse_section

DEFAULT_THEME = "aba-dark"
PANES = ("runs", "charts", "logs", "telemetry", "alerts")


@dataclass
class RunsSettings:
    poll_s: float = opt(0.25, "seconds between checks of run folders for new events", min=0.05, max=10.0)
    scan_s: float = opt(2.0, "seconds between listings of the runs dir (new runs)", min=0.1, max=60.0)
    tail_lines: int = opt(20000, "events drawn first from the end of a file too big to read whole", min=100)
    full_history_mb: float = opt(16.0, "events files up to this size are read whole before they are drawn; bigger "
                                       "ones from their last tail_lines lines", min=0.0)
    history_mb: float = opt(2048.0, "bigger files up to this size then have their history read in the background "
                                    "(about 12 bytes a point of each metric); 0: never", min=0.0)


@dataclass
class ChartsSettings:
    metrics: list[str] = opt(["loss", "accuracy", "reward"], "the metric charts, left to right (a stage with charts of "
                                                              "its own in the registry shows those)")
    smoothing: float = opt(0.6, "EMA weight of the past, 0 (raw) to 0.99", min=0.0, max=0.99)
    eval_points: bool = opt(True, "overlay eval_<metric> points")
    max_overlay: int = opt(6, "runs drawn together at most", min=1, max=12)


@dataclass
class TelemetrySettings:
    interval_s: float = opt(1.0, "seconds between GPU/CPU samples", min=0.25, max=60.0)
    history_minutes: float = opt(30.0, "minutes of history the sparklines cover", min=1.0, max=24 * 60.0)


@dataclass
class AlertsSettings:
    stall_minutes: float = opt(10.0, "a running run with no new event or log line for this long", min=0.0)
    gpu_util_low_pct: float = opt(20.0, "GPU utilisation below this while a run runs (starved loader)",
                                  min=0.0, max=100.0)
    gpu_util_window_s: float = opt(120.0, "seconds the utilisation must stay low", min=5.0)
    vram_pct: float = opt(95.0, "VRAM use above this share", min=1.0, max=100.0)
    collapse_loss: float = opt(1e-4, "loss below this for collapse_window points", min=0.0)
    collapse_ratio: float = opt(0.01, "loss below this share of its start (0: off)", min=0.0, max=1.0)
    collapse_window: int = opt(5, "points the collapse must last", min=1)
    disk_low_mb: float = opt(1024.0, "free space of the runs dir below this many MiB while runs are live (0: off)",
                             min=0.0)
    error_rate: float = opt(0.1, "datagen: share of the last traces with no complete text (0: off)", min=0.0, max=1.0)
    judge_missing_rate: float = opt(0.1, "datagen: share of the last complete traces left unjudged (0: off)",
                                    min=0.0, max=1.0)
    rate_min_items: int = opt(10, "datagen: traces done before the two rates are judged", min=1)
    study_patience: int = opt(10, "abliteration: trials in a row without a new best (0: off)", min=0)
    notify: bool = opt(True, "show a notification for each new alert")

    def thresholds(self) -> Thresholds:
        names = {f.name for f in dataclasses.fields(Thresholds)}
        return Thresholds(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


@dataclass
class PanesSettings:
    hidden: list[str] = opt([], "panes hidden at start: " + ", ".join(PANES))


SECTIONS: dict[str, type] = {
    "runs": RunsSettings,
    "charts": ChartsSettings,
    "telemetry": TelemetrySettings,
    "alerts": AlertsSettings,
    "panes": PanesSettings,
}


@dataclass
class Settings:
    theme: str = DEFAULT_THEME
    runs_dir: str = ""
    runs: RunsSettings = field(default_factory=RunsSettings)
    charts: ChartsSettings = field(default_factory=ChartsSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    panes: PanesSettings = field(default_factory=PanesSettings)
    keymap: dict[str, str] = field(default_factory=dict)  # binding id → keys, e.g. "runs.stop" = "x"
    notify: NotifyConfig = field(default_factory=NotifyConfig)  # read by the supervisors too (pipeline.runs.notify)
    path: Path | None = None  # where it was read from (and where the theme is saved)


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the config; a missing file means the defaults."""
    path = Path(path) if path is not None else user_config_path()
    settings = Settings(path=path)
    if not path.exists():
        return settings
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    for key, value in data.items():
        where = f"{path}: {key}"
        if key in ("theme", "runs_dir"):
            if not isinstance(value, str) or (key == "theme" and not value):
                hint = " (a theme name)" if key == "theme" else ""
                raise ConfigError(f"{where}={value!r}: expected a string{hint}")
            setattr(settings, key, value)
        elif key == "keymap":
            if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
                raise ConfigError(f"{where}: expected a table of binding-id = \"keys\", e.g. \"runs.stop\" = \"x\"")
            settings.keymap = dict(value)
        elif key == "notify":
            settings.notify = parse_section(str(path), value)
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table [{key}]")
            setattr(settings, key, _section(path, key, value))
        else:
            known = ["theme", "runs_dir", "keymap", "notify", *SECTIONS]
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(known)})")
    for pane in settings.panes.hidden:
        if pane not in PANES:
            raise ConfigError(f"{path}: panes.hidden={settings.panes.hidden!r}: unknown pane {pane!r} "
                              f"(expected some of {', '.join(PANES)})")
    return settings


def _section(path: Path, name: str, data: dict[str, Any]) -> Any:
    cls = SECTIONS[name]
    fmap = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in data.items():
        if key not in fmap:
            raise ConfigError(f"{path}: unknown key {name}.{key} (known keys of [{name}]: {', '.join(fmap)})")
        f = fmap[key]
        values[key] = coerce(value, field_type(f, cls), f.metadata, f"{path}: {name}.{key}")
    return cls(**values)


def check_keymap(settings: Settings, known: dict[str, str]) -> None:
    """Every keymap entry must name a binding the app has (``known``: id → default keys)."""
    for bid in settings.keymap:
        if bid not in known:
            raise ConfigError(f"{settings.path}: keymap.{bid}: unknown binding id (known: {', '.join(sorted(known))})")


_THEME_LINE = re.compile(r"^theme\s*=.*$", re.M)
_TABLE = re.compile(r"^\s*\[", re.M)


def save_theme(path: Path, name: str) -> None:
    """Remember the theme: replace the top-level ``theme = …`` line, or add one at the top."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    line = f'theme = "{name}"'
    first_table = _TABLE.search(text)
    head_end = first_table.start() if first_table else len(text)
    head, rest = text[:head_end], text[head_end:]
    head = _THEME_LINE.sub(line, head, count=1) if _THEME_LINE.search(head) else line + "\n" + head
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, head + rest)
