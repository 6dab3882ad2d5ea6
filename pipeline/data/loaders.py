"""Training data: builtin corpora and users' JSONL files, validated row by row, deduplicated.

Light module (json and hashlib only): `aba run` and the UI can validate a file before any worker
starts. Every error names the file, the line number and the key, and says what was expected. Rows
are normalised to chat messages so the chat template is always applied (seed 000 trained raw text
once and never learned EOS).

Dedupe uses sha256 of canonical JSON, never Python's salted ``hash()`` (which broke a resume in the
seeds: the same row got another key in the next process).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config.paths import lookup_runs_dir, own_run_dir
from pipeline.config.runref import is_run_ref, parse_run_ref
from pipeline.errors import ConfigError

DATA_DIR = Path(__file__).parent
BUILTIN_PREFIX = "builtin:"
PARENT_PREFIX = "parent:"  # a file in the parent run's folder (chains)
ROLES = ("system", "user", "assistant")
Messages = list[dict[str, str]]


class DataError(ConfigError):
    """A bad dataset: the message names the file, line and key."""


def content_hash(obj: Any) -> str:
    """Stable across processes and machines: sha256 of JSON with sorted keys and no spacing."""
    canon = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def builtin_names() -> list[str]:
    return sorted(p.name.removesuffix(".jsonl") for p in DATA_DIR.glob("*.jsonl"))


def run_data_path(spec: str, key: str, runs_dir: Path | None = None) -> Path:
    """``run:<datagen run>`` in ``runs_dir`` (default: config.paths.lookup_runs_dir) → that run's output
    for the reading stage (data/sft.jsonl, dpo.jsonl, grpo.jsonl)."""
    from pipeline.errors import RunNotFound
    from pipeline.runs.layout import DATA, DATAGEN_OUTPUTS
    from pipeline.runs.store import RunStore

    stage = key.split(".", 1)[0]
    name = DATAGEN_OUTPUTS.get(stage, f"{stage}.jsonl")
    ref = parse_run_ref(spec, key)
    if ref.checkpoint is not None:
        raise DataError(f"{key}={spec!r}: a dataset is a whole datagen run (expected run:<datagen run>, no @)")
    root = runs_dir or lookup_runs_dir()
    try:
        run_dir = RunStore(root).resolve(ref.run)
    except RunNotFound:
        raise DataError(f"{key}={spec!r}: no such run in {root}") from None
    path = run_dir / DATA / name
    if not path.is_file():
        raise DataError(f"{key}={spec!r}: the run has no {DATA}/{name} (expected a datagen run that finished)")
    return path


def resolve_data_path(spec: str, key: str = "data", runs_dir: Path | None = None) -> Path:
    """``builtin:<name>`` → the shipped JSONL; ``run:<id>`` → a datagen run's output (in ``runs_dir``); else
    that file."""
    if not spec:
        raise DataError(f"{key}: empty (expected builtin:<name>, run:<datagen run>, parent:<file> or a JSONL file)")
    if is_run_ref(spec):
        return run_data_path(spec, key, runs_dir)
    if spec.startswith(PARENT_PREFIX):
        return parent_file(spec, key)
    if spec.startswith(BUILTIN_PREFIX):
        name = spec[len(BUILTIN_PREFIX):]
        path = DATA_DIR / f"{name}.jsonl"
        if not path.is_file():
            raise DataError(f"{key}={spec!r}: no such builtin dataset (expected one of "
                            f"{', '.join(BUILTIN_PREFIX + n for n in builtin_names())})")
        return path
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(f"{key}={spec!r}: no such file (expected builtin:<name> or a JSONL file)")
    return path


def parent_file(spec: str, key: str) -> Path:
    """``parent:<file>``: a file the parent run of a chain wrote in its folder (e.g. abliterate's
    heal_pairs.jsonl for the DPO heal). Resolved in the worker, from this run's run.toml ``parent``."""
    from pipeline.runs.store import load_run_config

    own = own_run_dir()
    parent = load_run_config(own).parent if own else None
    if not own or not parent:
        raise DataError(f"{key}={spec!r}: parent:<file> needs a chained run (this run has no parent run)")
    path = own.parent / parent / spec[len(PARENT_PREFIX):]
    if not path.is_file():
        raise DataError(f"{key}={spec!r}: the parent run {parent} wrote no {path.name} ({path})")
    return path


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; the first bad line raises DataError."""
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file (expected JSONL, one JSON object a line)") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path} line {lineno}: not valid JSON ({exc}); expected one JSON object a line") \
                from None
        if not isinstance(obj, dict):
            raise DataError(f"{path} line {lineno}: expected a JSON object, got {type(obj).__name__}")
        rows.append((lineno, obj))
    if not rows:
        raise DataError(f"{path}: no rows (expected JSONL, one JSON object a line)")
    return rows


# -- field checks --------------------------------------------------------------------------------
def _where(path: Path, lineno: int, key: str) -> str:
    return f"{path} line {lineno}: {key!r}"


def _text(value: Any, path: Path, lineno: int, key: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{_where(path, lineno, key)} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(f"{_where(path, lineno, key)} is empty")
    return value


def _messages(value: Any, path: Path, lineno: int, key: str, default_role: str) -> Messages:
    """A string (one message of ``default_role``) or a list of {role, content} messages."""
    if isinstance(value, str):
        return [{"role": default_role, "content": _text(value, path, lineno, key)}]
    if not isinstance(value, list) or not value:
        raise DataError(f"{_where(path, lineno, key)} must be a string or a non-empty list of "
                        f"{{\"role\", \"content\"}} messages, got {type(value).__name__}")
    out: Messages = []
    for i, msg in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise DataError(f"{_where(path, lineno, where)} must be an object with \"role\" and \"content\"")
        if msg["role"] not in ROLES:
            raise DataError(f"{_where(path, lineno, where + '.role')} is {msg['role']!r} "
                            f"(expected one of {', '.join(ROLES)})")
        out.append({"role": msg["role"], "content": _text(msg["content"], path, lineno, where + ".content")})
    return out


def _require(obj: dict[str, Any], keys: tuple[str, ...], path: Path, lineno: int, form: str) -> None:
    for key in keys:
        if key not in obj:
            raise DataError(f"{path} line {lineno}: missing key {key!r} (expected {form})")


def _with_system(obj: dict[str, Any], prompt: Messages, path: Path, lineno: int) -> Messages:
    if "system" in obj and prompt[0]["role"] != "system":
        return [{"role": "system", "content": _text(obj["system"], path, lineno, "system")}, *prompt]
    return prompt


def _prompt(obj: dict[str, Any], path: Path, lineno: int) -> Messages:
    prompt = _with_system(obj, _messages(obj["prompt"], path, lineno, "prompt", "user"), path, lineno)
    if prompt[-1]["role"] == "assistant":
        raise DataError(f"{_where(path, lineno, 'prompt')} ends with an assistant message "
                        "(expected the prompt to end with a user turn)")
    return prompt


def _answer(obj: dict[str, Any], key: str, path: Path, lineno: int) -> Messages:
    msgs = _messages(obj[key], path, lineno, key, "assistant")
    if any(m["role"] != "assistant" for m in msgs):
        raise DataError(f"{_where(path, lineno, key)} must hold assistant messages only")
    return msgs


# -- datasets ------------------------------------------------------------------------------------
@dataclass
class Dataset:
    """Normalised rows plus what was dropped, for the stage to report."""

    source: str
    rows: list[dict[str, Any]]
    duplicates: list[int] = field(default_factory=list)  # line numbers dropped as repeats

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def digest(self) -> str:
        """One hash of the whole dataset, recorded in checkpoint metadata."""
        return content_hash(self.rows)


def _dedupe(source: str, keyed: list[tuple[int, dict[str, Any]]], key_fields: tuple[str, ...]) -> Dataset:
    seen: set[str] = set()
    rows, dupes = [], []
    for lineno, row in keyed:
        h = content_hash({k: row[k] for k in key_fields})
        if h in seen:
            dupes.append(lineno)
            continue
        seen.add(h)
        rows.append(row)
    return Dataset(source, rows, dupes)


PAIRS_FORM = "prompt, chosen, rejected as strings or chat messages"


def load_pairs(spec: str, key: str = "dpo.data", runs_dir: Path | None = None) -> Dataset:
    """Preference pairs: {prompt, chosen, rejected} (+ optional system, category, id)."""
    path = resolve_data_path(spec, key, runs_dir)
    keyed = []
    for lineno, obj in read_jsonl(path):
        _require(obj, ("prompt", "chosen", "rejected"), path, lineno, PAIRS_FORM)
        row: dict[str, Any] = {"prompt": _prompt(obj, path, lineno), "chosen": _answer(obj, "chosen", path, lineno),
               "rejected": _answer(obj, "rejected", path, lineno)}
        if row["chosen"] == row["rejected"]:
            raise DataError(f"{path} line {lineno}: 'chosen' and 'rejected' are identical "
                            "(a pair must prefer one answer over a different one)")
        row["category"] = str(obj.get("category", ""))
        keyed.append((lineno, row))
    return _dedupe(str(path), keyed, ("prompt", "chosen", "rejected"))


SFT_FORM = "messages (a chat ending with an assistant turn), or prompt and completion (or chosen)"


def load_sft(spec: str, key: str = "sft.data", runs_dir: Path | None = None) -> Dataset:
    """SFT rows as prompt/completion messages; the loss is taken on the completion only.

    Accepts ``messages`` (the last assistant turn is the completion, everything before it the
    prompt), ``prompt`` + ``completion``, or a preference pair (``chosen`` is the completion).
    """
    path = resolve_data_path(spec, key, runs_dir)
    keyed = []
    for lineno, obj in read_jsonl(path):
        if "messages" in obj:
            msgs = _messages(obj["messages"], path, lineno, "messages", "user")
            if msgs[-1]["role"] != "assistant" or len(msgs) < 2:
                raise DataError(f"{_where(path, lineno, 'messages')} must end with an assistant message "
                                "after at least one user message")
            row = {"prompt": _with_system(obj, msgs[:-1], path, lineno), "completion": msgs[-1:]}
        else:
            answer_key = "chosen" if "completion" not in obj and "chosen" in obj else "completion"
            _require(obj, ("prompt", answer_key), path, lineno, SFT_FORM)
            row = {"prompt": _prompt(obj, path, lineno), "completion": _answer(obj, answer_key, path, lineno)}
        keyed.append((lineno, row))
    return _dedupe(str(path), keyed, ("prompt", "completion"))


PROMPTS_FORM = "prompt as a string or chat messages (or messages ending with a user turn)"


def load_prompts(spec: str, key: str = "grpo.data", runs_dir: Path | None = None) -> Dataset:
    """GRPO prompts: ``prompt`` (any extra keys such as chosen are ignored) or ``messages``."""
    path = resolve_data_path(spec, key, runs_dir)
    keyed = []
    for lineno, obj in read_jsonl(path):
        if "prompt" not in obj and "messages" in obj:
            msgs = _messages(obj["messages"], path, lineno, "messages", "user")
            while msgs and msgs[-1]["role"] == "assistant":
                msgs = msgs[:-1]  # a chat with answers: keep the prompt part
            if not msgs:
                raise DataError(f"{_where(path, lineno, 'messages')} holds no user turn")
            row = {"prompt": _with_system(obj, msgs, path, lineno)}
        else:
            _require(obj, ("prompt",), path, lineno, PROMPTS_FORM)
            row = {"prompt": _prompt(obj, path, lineno)}
        keyed.append((lineno, row))
    return _dedupe(str(path), keyed, ("prompt",))
