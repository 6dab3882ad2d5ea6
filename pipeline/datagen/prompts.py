"""Prompt sets: one JSONL format ({id, category, turns}), a starter set shipped as package data,
users' files checked row by row, and expansion of a category by the generator (deduplicated)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.data.loaders import DataError, content_hash, read_jsonl
from pipeline.datagen.config import CATEGORIES

SETS_DIR = Path(__file__).parent / "sets"
FORM = 'one JSON object a line: {"id": "...", "category": "<one of ' + ", ".join(CATEGORIES) + \
    '>", "turns": ["user text", "assistant text", "user text", ...]}'


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    messages: tuple[tuple[str, str], ...]  # (role, content), ending with a user turn

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]

    def to_row(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "turns": [c for _r, c in self.messages]}

    @property
    def digest(self) -> str:
        """Content identity for dedupe: the normalised turns (case and spacing ignored)."""
        return content_hash([" ".join(c.lower().split()) for _r, c in self.messages])


def set_path(spec: str, key: str = "datagen.prompts") -> Path:
    if spec.startswith("builtin:"):
        path = SETS_DIR / f"{spec[len('builtin:'):]}.jsonl"
        if not path.is_file():
            names = ", ".join(f"builtin:{p.stem}" for p in sorted(SETS_DIR.glob("*.jsonl")))
            raise DataError(f"{key}={spec!r}: no such builtin prompt set (expected one of {names})")
        return path
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(f"{key}={spec!r}: no such file (expected builtin:<name> or a JSONL file: {FORM})")
    return path


def _turns(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: 'turns' must be a non-empty list of strings (user, assistant, user, …)")
    out = []
    for i, t in enumerate(value):
        if isinstance(t, dict):
            role, text = t.get("role"), t.get("content")
            if role not in ("user", "assistant"):
                raise DataError(f"{where}: 'turns[{i}].role' is {role!r} (expected user or assistant)")
        else:
            role, text = ("user" if i % 2 == 0 else "assistant"), t
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: 'turns[{i}]' must be non-empty text")
        out.append((str(role), text))
    if out[-1][0] != "user":
        raise DataError(f"{where}: 'turns' must end with a user turn (an odd number of turns)")
    return tuple(out)


def row_to_prompt(obj: dict[str, Any], where: str) -> Prompt:
    for key in ("id", "category", "turns"):
        if key not in obj:
            raise DataError(f"{where}: missing key {key!r} (expected {FORM})")
    if not isinstance(obj["id"], str | int) or not str(obj["id"]).strip():
        raise DataError(f"{where}: 'id' must be a non-empty string")
    if obj["category"] not in CATEGORIES:
        raise DataError(f"{where}: 'category' is {obj['category']!r} (expected one of {', '.join(CATEGORIES)})")
    return Prompt(str(obj["id"]), obj["category"], _turns(obj["turns"], where))


def load_prompt_set(spec: str, key: str = "datagen.prompts") -> list[Prompt]:
    """Every row checked (file, line and key named); repeated ids are an error, repeated content dropped."""
    path = set_path(spec, key)
    out: list[Prompt] = []
    ids: dict[str, int] = {}
    seen: set[str] = set()
    for lineno, obj in read_jsonl(path):
        p = row_to_prompt(obj, f"{path} line {lineno}")
        if p.id in ids:
            raise DataError(f"{path} line {lineno}: 'id' {p.id!r} repeats line {ids[p.id]} (ids must be unique)")
        ids[p.id] = lineno
        if p.digest not in seen:
            seen.add(p.digest)
            out.append(p)
    return out


EXPAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"turns": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}},
    "required": ["turns"],
}

CATEGORY_BRIEF = {
    "safety": "a request that is harmful or toxic, or a person in distress, which a good assistant redirects",
    "complexity": "a problem with 5 or more interacting variables that needs grouping and simplification",
    "multiturn": "a 3–5 turn dialogue (user, assistant, user, …, ending with the user) whose last request "
                 "depends on details from earlier turns",
    "conflict": "contradictory instructions, an ethical dilemma, or competing valid answers",
    "calibration": "a question at the edge of what can be known, where 'I don't know' may be right",
}


def expansion_request(category: str, examples: list[Prompt]) -> str:
    shown = "\n".join(json.dumps(p.to_row()["turns"], ensure_ascii=False) for p in examples[:5])
    return (f"Write ONE new, different user prompt for a training set. Category: {category} — "
            f"{CATEGORY_BRIEF[category]}.\nExamples (do not copy them):\n{shown}\n"
            'Reply with JSON only: {"turns": ["..."]}')


def parse_expansion(text: str, category: str, new_id: str) -> Prompt | None:
    try:
        obj = json.loads(text.strip().removeprefix("```json").removesuffix("```"))
        return row_to_prompt({"id": new_id, "category": category, "turns": obj.get("turns")}, "generated")
    except (ValueError, AttributeError, DataError):  # a weak generator's bad row is skipped, not fatal
        return None
