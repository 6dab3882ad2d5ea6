"""Prompt batteries: a list of prompts with optional automatic checks, run through both A/B sides
into one result table saved in the run folder (seed 000's 12-test battery, read by a program).

The built-in battery is the eval stage's (``builtin:battery-12``, pipeline/evaluate/sets/battery-12.json):
one file, one set of checks, whether the chat screen or the eval stage runs it. A battery file is JSON
(a list of items, or {"name", "items"}), JSONL (one item a line) or text (one prompt a line). An item::

    {"id": "rq-01", "prompt": "…", "system": "",
     "expect": {"contains": ["yes"], "not_contains": ["as an ai"], "regex": "…", "not_regex": "…",
                "min_chars": 10, "max_chars": 400, "collapse_ok": false, "think": true}}

The checks read the answer after any ``<think>…</think>`` block. contains/not_contains ignore case;
every answer also goes through the collapse scan unless collapse_ok is true. ``think``: on a model whose
chat template has a thinking mode, the answer must open with a closed think block holding a structured
trace (two or more steps); on other models the check does not apply.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.chat.client import ChatError, Endpoint, Sampling, complete
from pipeline.checkpoints.collapse import scan
from pipeline.errors import ConfigError

EXPECT_KEYS = ("contains", "not_contains", "regex", "not_regex", "min_chars", "max_chars", "collapse_ok", "think")
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.S)
_STEP = re.compile(r"[.!?:;](?:\s|$)|\n\s*\S")


def split_think(answer: str) -> tuple[str | None, str]:
    """(the think block's text or None, the answer after it)."""
    m = _THINK.match(answer)
    return (m.group(1).strip(), answer[m.end():]) if m else (None, answer)


def structured_trace(think: str | None) -> bool:
    """A think block that reasons in steps: at least 40 characters in two or more sentences or lines."""
    return think is not None and len(think) >= 40 and len(_STEP.findall(think.strip() + "\n")) >= 2


@dataclass
class BatteryItem:
    id: str
    prompt: str
    system: str = ""
    expect: dict[str, Any] = field(default_factory=dict)

    def think_check(self, answer: str, thinking: bool | None) -> bool | None:
        """The ``think`` check on a thinking model: True/False; None when it does not apply."""
        if not self.expect.get("think") or not thinking:
            return None
        return structured_trace(split_think(answer)[0])

    def check(self, answer: str, thinking: bool | None = None) -> list[str]:
        """Failed checks, as short lines; [] when the answer passes. ``thinking``: the model's chat template
        has a thinking mode (then a ``think`` item also needs a structured trace)."""
        fails: list[str] = []
        think_ok = self.think_check(answer, thinking)
        if think_ok is False:
            fails.append("no structured <think> trace")
        answer = split_think(answer)[1]
        low = answer.lower()
        e = self.expect
        for s in _as_list(e.get("contains")):
            if s.lower() not in low:
                fails.append(f"missing {s!r}")
        for s in _as_list(e.get("not_contains")):
            if s.lower() in low:
                fails.append(f"contains {s!r}")
        if e.get("regex") and not re.search(e["regex"], answer):
            fails.append(f"no match for /{e['regex']}/")
        if e.get("not_regex") and re.search(e["not_regex"], answer):
            fails.append(f"matches /{e['not_regex']}/")
        if e.get("min_chars") is not None and len(answer.strip()) < int(e["min_chars"]):
            fails.append(f"shorter than {e['min_chars']} chars")
        if e.get("max_chars") is not None and len(answer) > int(e["max_chars"]):
            fails.append(f"longer than {e['max_chars']} chars")
        if not e.get("collapse_ok"):
            rep = scan(answer)
            if rep.collapsed:
                fails.append(f"collapse: {rep.summary()}")
        return fails


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


@dataclass
class Battery:
    name: str
    items: list[BatteryItem]


def _item(obj: Any, where: str, index: int) -> BatteryItem:
    if isinstance(obj, str):
        obj = {"prompt": obj}
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected an object with a prompt, got {type(obj).__name__}")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigError(f"{where}: prompt must be a non-empty string")
    expect = obj.get("expect") or {}
    if not isinstance(expect, dict):
        raise ConfigError(f"{where}: expect must be an object with keys {', '.join(EXPECT_KEYS)}")
    unknown = set(expect) - set(EXPECT_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown expect key {sorted(unknown)[0]!r} (known: {', '.join(EXPECT_KEYS)})")
    for key in ("regex", "not_regex"):
        if expect.get(key):
            try:
                re.compile(expect[key])
            except re.error as exc:
                raise ConfigError(f"{where}: expect.{key}={expect[key]!r}: not a valid regex ({exc})") from None
    for key in ("min_chars", "max_chars"):
        if key in expect and not (isinstance(expect[key], int) and not isinstance(expect[key], bool)):
            raise ConfigError(f"{where}: expect.{key}={expect[key]!r}: expected an integer")
    for key in ("collapse_ok", "think"):
        if key in expect and not isinstance(expect[key], bool):
            raise ConfigError(f"{where}: expect.{key}={expect[key]!r}: expected true or false")
    return BatteryItem(str(obj.get("id") or f"p{index + 1:02d}"), prompt, str(obj.get("system") or ""), expect)


def load_battery(path: Path | str) -> Battery:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the battery ({exc.strerror})") from None
    items: list[BatteryItem] = []
    name = path.stem
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise ConfigError(f"{path}:{n}: not valid JSON ({exc})") from None
                items.append(_item(obj, f"{path}:{n}", len(items)))
    elif path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            name = str(data.get("name") or name)
            data = data.get("items")
        if not isinstance(data, list):
            raise ConfigError(f"{path}: expected a list of items or {{\"name\": …, \"items\": [...]}}")
        items = [_item(obj, f"{path}: item {i + 1}", i) for i, obj in enumerate(data)]
    else:
        prompts = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        items = [_item(p, f"{path}:{i + 1}", i) for i, p in enumerate(prompts)]
    if not items:
        raise ConfigError(f"{path}: the battery has no prompts")
    ids = [it.id for it in items]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise ConfigError(f"{path}: id {dup!r} appears twice (ids must be unique)")
    return Battery(name, items)


@dataclass
class SideResult:
    answer: str = ""
    failures: list[str] = field(default_factory=list)
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


@dataclass
class BatteryRow:
    item: BatteryItem
    sides: dict[str, SideResult]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.item.id, "prompt": self.item.prompt, "expect": self.item.expect,
                "sides": {k: {"answer": r.answer, "passed": r.passed, "failures": r.failures,
                              "error": r.error, "stats": r.stats} for k, r in self.sides.items()}}


@dataclass
class BatteryResult:
    battery: str
    labels: dict[str, str]
    rows: list[BatteryRow] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    stopped: bool = False

    def summary(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for side, label in self.labels.items():
            res = [r.sides[side] for r in self.rows if side in r.sides]
            ttfts = [x.stats["ttft_s"] for x in res if x.stats.get("ttft_s") is not None]
            tps = [x.stats["tokens_per_s"] for x in res if x.stats.get("tokens_per_s")]
            out[side] = {"label": label, "passed": sum(x.passed for x in res), "total": len(res),
                         "errors": sum(x.error is not None for x in res),
                         "collapsed": sum(any(f.startswith("collapse") for f in x.failures) for x in res),
                         "mean_ttft_s": sum(ttfts) / len(ttfts) if ttfts else None,
                         "mean_tokens_per_s": sum(tps) / len(tps) if tps else None}
        return out

    def save(self, folder: Path) -> Path:
        """battery-<time>.jsonl (one row a line) and a .json summary beside it; returns the .jsonl."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started_at))
        rows = folder / f"battery-{stamp}-{self.battery}.jsonl"
        atomic_write_text(rows, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in self.rows))
        atomic_write_json(rows.with_suffix(".json"), {
            "battery": self.battery, "started_at": self.started_at, "stopped": self.stopped,
            "sides": self.labels, "summary": self.summary(), "rows": rows.name})
        return rows


def _ask(ep: Endpoint, item: BatteryItem, sampling: Sampling) -> SideResult:
    messages = ([{"role": "system", "content": item.system}] if item.system else []) + \
        [{"role": "user", "content": item.prompt}]
    try:
        text, stats = complete(ep, messages, sampling)
    except ChatError as exc:
        return SideResult(error=str(exc))
    return SideResult(text, item.check(text), None, stats.to_dict())


def run_battery(battery: Battery, endpoints: dict[str, Endpoint], sampling: Sampling,
                on_row: Callable[[BatteryRow], None] | None = None,
                stop: threading.Event | None = None) -> BatteryResult:
    """Each prompt goes to every side at once (one thread a side); rows arrive in order."""
    result = BatteryResult(battery.name, {k: ep.label for k, ep in endpoints.items()})
    for item in battery.items:
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        out: dict[str, SideResult] = {}

        def work(side: str, ep: Endpoint, it: BatteryItem = item, res: dict[str, SideResult] = out) -> None:
            res[side] = _ask(ep, it, sampling)

        threads = [threading.Thread(target=work, args=(k, ep), daemon=True) for k, ep in endpoints.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        row = BatteryRow(item, {k: out[k] for k in endpoints})
        result.rows.append(row)
        if on_row is not None:
            on_row(row)
    return result
