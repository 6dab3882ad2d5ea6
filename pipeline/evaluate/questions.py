"""Question sets for probes: the A/B chat's battery format plus a ``category`` per item.

A question file is JSONL (one item a line) or JSON, each item a battery item (id, prompt, system,
expect) with ``category`` (one of seed 003's seven) and, for syllogisms, ``answer`` ("yes"/"no").
``builtin:<name>`` names a set shipped in ``pipeline/evaluate/sets``. Every bad row is reported with
its file and line before anything runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.chat.battery import BatteryItem, _item
from pipeline.errors import ConfigError

SETS_DIR = Path(__file__).resolve().parent / "sets"
BATTERY = "builtin:battery-12"  # seed 000's 12-test battery: the A/B chat's and the eval stage's
QUESTION_CATEGORIES = ("self_properties", "factual", "reasoning", "harmful", "ambiguous", "insufficient_context",
                       "technical")


@dataclass
class Question:
    item: BatteryItem
    category: str
    answer: str | None = None  # expected yes/no of a syllogism
    set_name: str = ""

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def prompt(self) -> str:
        return self.item.prompt


def set_path(spec: str) -> Path:
    if spec.startswith("builtin:"):
        name = spec[8:]
        for ext in (".jsonl", ".json"):
            p = SETS_DIR / f"{name}{ext}"
            if p.is_file():
                return p
        known = sorted({p.stem for p in SETS_DIR.glob("*.json*")})
        raise ConfigError(f"question set {spec!r}: no such built-in set (expected one of "
                          f"{', '.join('builtin:' + k for k in known)}, or a JSONL file)")
    p = Path(spec).expanduser()
    if not p.is_file():
        raise ConfigError(f"question set {spec!r}: no such file (expected builtin:<name> or a JSONL/JSON file)")
    return p


def _question(obj: Any, where: str, index: int, set_name: str) -> Question:
    item = _item(obj, where, index)
    cat = obj.get("category") if isinstance(obj, dict) else None
    if cat not in QUESTION_CATEGORIES:
        raise ConfigError(f"{where}: category={cat!r}: expected one of {', '.join(QUESTION_CATEGORIES)}")
    answer = obj.get("answer")
    if answer is not None and answer not in ("yes", "no"):
        raise ConfigError(f"{where}: answer={answer!r}: expected \"yes\" or \"no\" (a syllogism's verdict)")
    return Question(item, cat, answer, set_name)


def load_questions(spec: str) -> list[Question]:
    """Every question of a set; a ConfigError naming the first bad row (and how many are bad)."""
    path = set_path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the question set ({exc})") from None
    rows: list[tuple[str, Any]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        data = data.get("items") if isinstance(data, dict) else data
        if not isinstance(data, list):
            raise ConfigError(f"{path}: expected a list of questions or {{\"items\": [...]}}")
        rows = [(f"{path}: item {i + 1}", obj) for i, obj in enumerate(data)]
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((f"{path}:{n}", json.loads(line)))
            except ValueError as exc:
                rows.append((f"{path}:{n}", ConfigError(f"{path}:{n}: not valid JSON ({exc.args[0]})")))
    out: list[Question] = []
    errors: list[str] = []
    for i, (where, obj) in enumerate(rows):
        try:
            if isinstance(obj, ConfigError):
                raise obj
            out.append(_question(obj, where, i, path.stem))
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        more = f" (and {len(errors) - 1} more bad rows)" if len(errors) > 1 else ""
        raise ConfigError(errors[0] + more)
    if not out:
        raise ConfigError(f"{path}: the question set has no questions")
    ids = [q.id for q in out]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise ConfigError(f"{path}: id {dup!r} appears twice (ids must be unique)")
    return out


def normalise(prompt: str) -> str:
    return " ".join("".join(c.lower() if c.isalnum() else " " for c in prompt).split())
