"""A config field: its type, default, help and bounds (``opt``), and the one coercion every source of
values goes through (files, ``--set``, the launch form, the TUI's settings), so a bad value reads the
same everywhere: file or flag, key, value, expected form.

Kept apart from the section classes (pipeline/config/schema.py) so the TUI's settings load without
building every stage's schema before the first frame.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from dataclasses import Field, field
from typing import Any, Literal, TypedDict, get_args

from pipeline.errors import ConfigError

# The field types a section may use (the loader, the CLI's --set and the launch form coerce these).
FieldType = Literal["bool", "int", "float", "str", "list[str]"]
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)


class FieldInfo(TypedDict):
    """One field of a section as data (for forms, docs and coercion)."""

    name: str
    type: FieldType
    default: Any
    help: str
    choices: tuple[str, ...] | None
    min: float | None
    max: float | None


def field_type(f: Field[Any], owner: type) -> FieldType:
    """A dataclass field's type as one of FIELD_TYPES (annotations are strings here: postponed evaluation)."""
    name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    for known in FIELD_TYPES:
        if name == known:
            return known
    raise TypeError(f"{owner.__name__}.{f.name}: type {name!r} is not a config field type (one of {FIELD_TYPES})")


def opt(default: Any, help: str, *, choices: tuple[str, ...] | None = None,
        min: float | None = None, max: float | None = None, multiline: bool = False) -> Any:
    """A config field. Strings hold no control characters (a newline in a [slurm] value would become a
    shell line); ``multiline`` text (a system prompt) may hold newlines and tabs."""
    meta: dict[str, Any] = {"help": help, "choices": choices, "min": min, "max": max}
    if multiline:
        meta["multiline"] = True
    if isinstance(default, list):
        items: list[Any] = list(default)
        return field(default_factory=lambda: list(items), metadata=meta)
    return field(default=default, metadata=meta)


def _expected(ftype: FieldType, meta: Mapping[str, Any]) -> str:
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    return {
        "int": "an integer, e.g. 8",
        "float": "a number, e.g. 0.1",
        "bool": "true or false",
        "str": "a string",
        "list[str]": "a list of strings, e.g. [\"q8_0\", \"Q4_K_M\"]",
    }.get(ftype, ftype)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # multiline text keeps \t \n \r


def check_text(value: str, where: str, multiline: bool = False) -> str:
    """Refuse control characters in a config string (one line naming the key and the character)."""
    bad = (_CONTROL_TEXT if multiline else _CONTROL).search(value)
    if bad:
        expected = "text with no control character but newlines and tabs" if multiline else "one line of text"
        raise ConfigError(f"{where}: control character {bad.group()!r} at position {bad.start()} (expected "
                          f"{expected})")
    return value


def coerce(value: Any, ftype: FieldType, meta: Mapping[str, Any], where: str) -> Any:
    """Check and convert ``value`` to the field type; ``where`` names the file/flag and key."""
    bad = ConfigError(f"{where}={value!r}: expected {_expected(ftype, meta)}")
    if ftype == "bool":
        if isinstance(value, bool):
            out: Any = value
        elif isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            out = value.lower() in ("true", "1", "yes")
        else:
            raise bad
    elif ftype == "int":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.replace("_", ""))
            except ValueError:
                raise bad from None
        if not isinstance(value, int):
            raise bad
        out = value
    elif ftype == "float":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, int | float):
            raise bad
        out = float(value)
        if not math.isfinite(out):
            raise ConfigError(f"{where}={value!r}: expected a finite number")
    elif ftype == "list[str]":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad
        out = [check_text(v, where) for v in value]
    else:
        if isinstance(value, datetime.date | datetime.time):
            value = value.isoformat()  # TOML reads 12:00:00 (e.g. slurm.time) as a time of day
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a setting that is a number or a word (datagen.thinking_chosen = 4096)
        if not isinstance(value, str):
            raise bad
        out = check_text(value, where, bool(meta.get("multiline")))
    choices = meta.get("choices")
    if choices and out not in choices:
        raise bad
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(out, int | float) and not isinstance(out, bool):
        if lo is not None and out < lo:
            raise ConfigError(f"{where}={value!r}: expected a value ≥ {lo}")
        if hi is not None and out > hi:
            raise ConfigError(f"{where}={value!r}: expected a value ≤ {hi}")
    return out
