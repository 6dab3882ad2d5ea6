"""Themes as TOML files (aba_tui/theme_files/, package data, and the user's $XDG_CONFIG_HOME/aba/themes/),
turned into Textual themes by name. A theme file holds Textual's Theme fields, optional
``[variables]`` (CSS variables) and ``[chart] colors`` for the lines of overlaid runs."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from pipeline.config.paths import user_config_path
from pipeline.errors import ConfigError

PROJECT_THEMES = Path(__file__).resolve().parent / "theme_files"  # package data: a wheel install has them
COLOR_KEYS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "boost",
              "success", "warning", "error")
FALLBACK_CHART = ["#5AA9E6", "#F2A541", "#7BC67B", "#C792EA", "#E56B6F", "#56D4DD"]


@dataclass
class ThemeSpec:
    theme: Theme
    chart_colors: list[str]
    path: Path


def theme_dirs() -> list[Path]:
    """User themes first, so a user file can replace a shipped one of the same name."""
    return [user_config_path().parent / "themes", PROJECT_THEMES]


def _color(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {key}={value!r}: expected a colour string like \"#5AA9E6\"")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ConfigError(f"{path}: {key}={value!r}: not a colour (expected e.g. \"#5AA9E6\" or \"red\")") from None
    return value


def load_theme_file(path: Path) -> ThemeSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable TOML theme ({exc})") from None
    known = {f.name for f in fields(Theme)}
    kwargs: dict[str, Any] = {}
    chart = list(FALLBACK_CHART)
    for key, value in data.items():
        if key in COLOR_KEYS:
            kwargs[key] = _color(path, key, value)
        elif key == "name":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{path}: name={value!r}: expected a theme name")
            kwargs["name"] = value
        elif key == "dark":
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: dark={value!r}: expected true or false")
            kwargs["dark"] = value
        elif key in ("luminosity_spread", "text_alpha"):
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{path}: {key}={value!r}: expected a number from 0 to 1")
            kwargs[key] = float(value)
        elif key == "variables":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [variables] must be a table of \"name\" = \"value\"")
            kwargs["variables"] = {str(k): str(v) for k, v in value.items()}
        elif key == "chart":
            colors = value.get("colors") if isinstance(value, dict) else None
            if not isinstance(colors, list) or not colors:
                raise ConfigError(f"{path}: [chart] colors must be a list of colours")
            chart = [_color(path, f"chart.colors[{i}]", c) for i, c in enumerate(colors)]
        else:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(known - {'ansi'}))}, chart)")
    kwargs.setdefault("name", path.stem)
    if "primary" not in kwargs:
        raise ConfigError(f"{path}: primary is missing (expected a colour like \"#5AA9E6\")")
    return ThemeSpec(Theme(**kwargs), chart, path)


def available_themes() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in reversed(theme_dirs()):  # later (user) entries win
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                out[p.stem] = p
    return out


def load_themes() -> tuple[dict[str, ThemeSpec], list[str]]:
    """Every theme file, by the name inside it, and one error line per broken file (the app shows
    them and goes on with the others)."""
    specs: dict[str, ThemeSpec] = {}
    errors: list[str] = []
    for path in available_themes().values():
        try:
            spec = load_theme_file(path)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        specs[spec.theme.name] = spec
    return specs, errors
