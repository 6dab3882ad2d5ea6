"""Harmful / harmless prompt sets with fixed train/test splits (light: no ML import).

``builtin`` is the project's own lists (data/harmful.jsonl with 8 categories, data/harmless.jsonl).
A user file is ``.txt`` (one prompt a line; the split is fixed by the prompt's sha256, a quarter
held out) or ``.jsonl`` (``prompt``, optional ``split`` train/test and ``category``). Bad rows stop
with the file, the line and the expected form.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError

DATA = Path(__file__).with_name("data")
SPLITS = ("train", "test")


@dataclass
class PromptSet:
    train: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    train_categories: list[str] = field(default_factory=list)
    source: str = ""


def _hash_split(prompt: str) -> str:
    return "test" if int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 4 == 0 else "train"


def load_prompts(spec: str, kind: str) -> PromptSet:
    """``kind`` is harmful or harmless (it names the builtin file and the config key in errors)."""
    key = f"abliterate.{kind}"
    path = DATA / f"{kind}.jsonl" if spec in ("", "builtin") else Path(spec).expanduser()
    if not path.is_file():
        raise ConfigError(f"{key}={spec!r}: no such file (expected builtin, a .txt or a .jsonl file)")
    out = PromptSet(source=str(path))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (expected one prompt a line, or JSONL)") from None
    seen: set[str] = set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        category = ""
        if path.suffix == ".jsonl":
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{path} line {lineno}: not JSON ({exc}); expected "
                                  '{"prompt": "...", "split": "train"|"test"}') from None
            if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not obj["prompt"].strip():
                raise ConfigError(f"{path} line {lineno}: expected an object with a non-empty string 'prompt'")
            prompt = obj["prompt"].strip()
            split = obj.get("split") or _hash_split(prompt)
            if split not in SPLITS:
                raise ConfigError(f"{path} line {lineno}: split={split!r} (expected train or test)")
            category = str(obj.get("category", ""))
        else:
            prompt = line.strip()
            split = _hash_split(prompt)
        if prompt in seen:
            continue
        seen.add(prompt)
        if split == "train":
            out.train.append(prompt)
            out.train_categories.append(category)
        else:
            out.test.append(prompt)
    if not out.train or not out.test:
        raise ConfigError(f"{key}: {path} gives {len(out.train)} train and {len(out.test)} test prompts "
                          "(both splits need at least one)")
    return out


def limited(items: list[str], limit: int) -> list[str]:
    return items[:limit] if limit > 0 else list(items)


def capability_items() -> list[dict]:
    """The project's small multiple-choice set: question, choices (4), answer (index)."""
    return [json.loads(line) for line in (DATA / "capability.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def fact_questions() -> list[str]:
    """Short factual questions for the self-consistency (hallucination) objective."""
    return [q for q in (DATA / "facts.txt").read_text(encoding="utf-8").splitlines() if q.strip()]
