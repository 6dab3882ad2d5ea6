"""Where things are: the user's config file, the runs dir (resolved the same way by the CLI, the TUI and
every process they start: flag, then $ABA_RUNS_DIR, then the config file's ``runs_dir``, then ./runs) and
the user's cache (built model folders, GGUFs, the judge's default cache)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pipeline.errors import ConfigError

RUNS_DIR_ENV = "ABA_RUNS_DIR"
DEFAULT_RUNS_DIR = "runs"
# Set by the supervisor for the processes it starts for a run (the worker, notification hooks): that run's folder.
RUN_DIR_ENV = "ABA_RUN_DIR"
CACHE_DIR_ENV = "ABA_CACHE_DIR"


def cache_dir() -> Path:
    """$ABA_CACHE_DIR, else $XDG_CACHE_HOME/aba, else ~/.cache/aba."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aba"


def models_cache_dir() -> Path:
    """HF folders built once from a GGUF or a run's checkpoint (content-keyed names)."""
    return cache_dir() / "models"


def judge_cache_dir() -> Path:
    """The judge's cache when its caller names none (a run keeps its own: runs.layout.JUDGE_CACHE)."""
    return cache_dir() / "judge"


def user_config_path() -> Path:
    """$ABA_CONFIG, else $XDG_CONFIG_HOME/aba/config.toml (~/.config/aba/config.toml)."""
    env = os.environ.get("ABA_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aba" / "config.toml"


def configured_runs_dir(path: Path | None = None) -> str:
    """The config file's top-level ``runs_dir`` ('' when the file or the key is absent)."""
    path = path or user_config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML ({exc})") from None
    value = data.get("runs_dir", "")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: runs_dir={value!r}: expected a string (a folder path)")
    return value


def resolve_runs_dir(flag: str | Path | None = None, configured: str | None = None) -> Path:
    """The runs dir: ``flag`` (--runs-dir), then $ABA_RUNS_DIR, then the config file's runs_dir
    (``configured`` when the caller has read it already), then ./runs."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get(RUNS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    value = configured if configured is not None else configured_runs_dir()
    return Path(value or DEFAULT_RUNS_DIR).expanduser()


def own_run_dir() -> Path | None:
    """The run folder this process works for ($ABA_RUN_DIR: a worker or a hook); None elsewhere."""
    own = os.environ.get(RUN_DIR_ENV)
    return Path(own) if own else None


def lookup_runs_dir() -> Path:
    """Where ``run:<id>`` references are looked up when the caller hands no runs dir: a worker's own runs
    dir (its run folder's parent), else the default runs dir. The CLI and the UI hand theirs instead."""
    own = own_run_dir()
    return own.parent if own else resolve_runs_dir()
