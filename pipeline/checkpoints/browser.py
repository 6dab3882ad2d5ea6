"""Checkpoint browser logic without Textual: collect, rank, diff and prune checkpoints of every run.

Seed 003 kept 20 checkpoints and a "best" that was the same as "final"; seed 000 filled 41 GB. The
browser lists every checkpoint (own and HF ``checkpoint-N``; incomplete and corrupt ones marked, not
hidden), ranks them by any metric, diffs two, and plans a prune that keeps best-k and the last.
"""

from __future__ import annotations

import math
import os
import re
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.atomic import read_json_object
from pipeline.checkpoints.metrics import ALIASES, NOT_METRICS, metric_value, rank_by
from pipeline.checkpoints.store import Checkpoint, list_checkpoints
from pipeline.runs.layout import BEST, CHECKPOINTS_DIR, DELETING_PREFIX, FINAL, RUN_TOML
from pipeline.runs.status import ACTIVE
from pipeline.runs.store import RunStore
from pipeline.safeio import UnsafePath, check_no_links, rmtree_inside

# Names the project keeps as aliases of the run's outcome; a prune never removes them.
PROTECTED = frozenset({BEST, FINAL})


@dataclass
class CkptRow:
    """One checkpoint of one run, as the browser shows it."""

    run_id: str
    run_dir: Path
    ckpt: Checkpoint
    run_state: str = "?"
    size: int | None = None  # filled by measure_sizes (walks the folder: done off the UI thread)

    @property
    def key(self) -> str:
        return f"{self.run_id}/{self.ckpt.name}"

    @property
    def name(self) -> str:
        return self.ckpt.name

    @property
    def state(self) -> str:
        return self.ckpt.state

    @property
    def step(self) -> int | None:
        return self.ckpt.step

    @property
    def epoch(self) -> float | None:
        return _num(self.ckpt.meta.get("epoch"))

    @property
    def age_s(self) -> float:
        written = _num(self.ckpt.meta.get("written_at")) or self.ckpt.mtime
        return max(0.0, time.time() - written) if written else math.inf

    @property
    def order_key(self) -> tuple[int, float, str]:
        """Periodic checkpoints by step (read from the name when metadata is missing), then aliases."""
        special = {BEST: 1, FINAL: 2}.get(self.name, 0)
        if self.step is not None:
            return (special, float(self.step), self.name)
        m = _NAME_NUMBER.search(self.name)
        return (special, float(m.group(1)) if m else math.inf, self.name)

    def metric(self, name: str) -> float | None:
        return metric_value(self.ckpt.meta, name)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in self.ckpt.meta.items():
            v = _num(value)
            if v is not None and key not in NOT_METRICS:
                out[key] = v
        evals = self.ckpt.meta.get("eval")
        if isinstance(evals, dict):
            for key, value in evals.items():
                v = _num(value)
                if v is not None:
                    out[f"eval_{key}"] = v
        return out


_NAME_NUMBER = re.compile(r"-s?(\d+(?:\.\d+)?)$")


def natural_order(rows: Iterable[CkptRow]) -> list[CkptRow]:
    """By run, then step (own and HF names alike), aliases last."""
    return sorted(rows, key=lambda r: (r.run_id, r.order_key))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def collect(runs_dir: Path | str, extra_dirs: Iterable[Path] = ()) -> list[CkptRow]:
    """Every checkpoint of every run in ``runs_dir`` plus foreign HF Trainer output folders."""
    rows: list[CkptRow] = []
    for info in RunStore(runs_dir).list_runs():
        for ck in list_checkpoints(info.path):
            rows.append(CkptRow(info.run_id, info.path, ck, info.state))
    for d in extra_dirs:
        d = Path(d)
        for ck in list_checkpoints(d):
            rows.append(CkptRow(d.name, d, ck, "foreign"))
    return rows


def measure_sizes(rows: Iterable[CkptRow]) -> None:
    for row in rows:
        row.size = row.ckpt.size_bytes()


def available_metrics(rows: Iterable[CkptRow]) -> list[str]:
    """Metric names present in any row, the common ones first."""
    seen: set[str] = set()
    for row in rows:
        seen.update(row.metrics())
    for canon, keys in ALIASES.items():
        if seen & set(keys):
            seen -= set(keys)
            seen.add(canon)
    first = [m for m in ("loss", "accuracy", "margins", "reward", "eval_loss") if m in seen]
    return first + sorted(seen - set(first))


def rank(rows: Iterable[CkptRow], metric: str, lower_better: bool | None = None) -> list[CkptRow]:
    """Best first; checkpoints without the metric (or not complete, or NaN) after, in step order."""
    return rank_by(rows, metric, lambda r: r.metric(metric) if r.ckpt.complete else None, lambda r: r.step,
                   lower_better, rest_key=lambda r: (r.run_id, r.step if r.step is not None else -1))


def best_per_run(rows: Iterable[CkptRow], metric: str) -> dict[str, CkptRow]:
    """The best checkpoint of each run by ``metric`` (aliases like ``best`` count as themselves)."""
    by_run: dict[str, list[CkptRow]] = {}
    for row in rows:
        by_run.setdefault(row.run_id, []).append(row)
    out = {}
    for run_id, group in by_run.items():
        ranked = rank(group, metric)
        if ranked and ranked[0].metric(metric) is not None and ranked[0].ckpt.complete:
            out[run_id] = ranked[0]
    return out


def fold_aliases(rows: Iterable[CkptRow]) -> tuple[list[CkptRow], dict[str, list[str]]]:
    """One row per checkpoint: a ``best`` or ``final`` that is a copy of another checkpoint of its run
    becomes a tag of that row (key → tags) instead of a row of its own that would take a rank. An alias
    whose source is gone (rotated, pruned) stays a row, tagged with its own name."""
    rows = list(rows)
    by_run: dict[str, dict[str, CkptRow]] = {}
    for r in rows:
        by_run.setdefault(r.run_id, {})[r.name] = r
    shown: list[CkptRow] = []
    tags: dict[str, list[str]] = {}
    for r in rows:
        if r.name not in PROTECTED:
            shown.append(r)
            continue
        target = _alias_target(r, by_run[r.run_id])
        if target is None:
            shown.append(r)
        tags.setdefault((target or r).key, []).append(r.name)
    for names in tags.values():
        names.sort(key=(BEST, FINAL).index)
    return shown, tags


def _alias_target(alias: CkptRow, siblings: dict[str, CkptRow]) -> CkptRow | None:
    """The checkpoint an alias copies: the one its metadata names, else (older runs, which did not
    name it) the only complete one at its step."""
    if not alias.ckpt.complete:
        return None
    source = alias.ckpt.meta.get("source")
    if isinstance(source, str):
        target = siblings.get(source)
        return target if target is not None and target.name not in PROTECTED and target.ckpt.complete else None
    same = [s for s in siblings.values() if s.name not in PROTECTED and s.ckpt.complete and s.step is not None
            and s.step == alias.step]
    return same[0] if len(same) == 1 else None


def same_as(row: CkptRow, others: Iterable[CkptRow]) -> list[str]:
    """Names of other checkpoints of the run at the same step (seed 003: "best" was "final")."""
    if row.step is None:
        return []
    return [o.name for o in others
            if o.run_id == row.run_id and o.name != row.name and o.step == row.step and o.ckpt.complete]


# -- diff ---------------------------------------------------------------------------------------
@dataclass
class DiffLine:
    section: str  # metadata | run.toml | adapter_config.json | config.json | …
    key: str
    a: Any
    b: Any

    @property
    def differs(self) -> bool:
        return self.a != self.b


CONFIG_FILES = ("adapter_config.json", "config.json", "generation_config.json")


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts → dotted keys (``model.lora_r``); lists stay values."""
    if isinstance(obj, dict) and obj:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj} if prefix else {}


def _read_run_toml(run_dir: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads((run_dir / RUN_TOML).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def merge_note(row: CkptRow) -> str | None:
    """A merged checkpoint's recipe and sources (pipeline/merge), e.g. ``ties d=0.5 of a@best ×1, b@best ×1``."""
    srcs = row.ckpt.meta.get("merged_from")
    info = row.ckpt.meta.get("merge")
    if not isinstance(srcs, list) or not isinstance(info, dict):
        return None
    weights = info.get("weights") or []
    parts = []
    for k, s in enumerate(srcs):
        s = s if isinstance(s, dict) else {}
        name = f"{s['run']}@{s.get('checkpoint')}" if s.get("run") else str(s.get("path", "?"))
        w = weights[k] if k < len(weights) else None
        parts.append(f"{name} ×{w:g}" if isinstance(w, int | float) else name)
    density = f" d={info['density']:g}" if info.get("method") != "linear" and "density" in info else ""
    return f"{info.get('method', 'merge')}{density} of " + ", ".join(parts)


def sources(row: CkptRow) -> dict[str, dict[str, Any]]:
    """The documents a diff compares: metadata, the run's config, the checkpoint's config files."""
    out: dict[str, dict[str, Any]] = {"metadata": dict(row.ckpt.meta)}
    out["metadata"].pop("written_at", None)
    if row.ckpt.error:
        out["metadata"]["(error)"] = row.ckpt.error
    run_cfg = _read_run_toml(row.run_dir)
    if run_cfg is not None:
        out[RUN_TOML] = run_cfg
    for name in CONFIG_FILES:
        data = read_json_object(row.ckpt.path / name)
        if data is not None:
            out[name] = data
    return out


def diff(a: CkptRow, b: CkptRow, only_changes: bool = True) -> list[DiffLine]:
    sa, sb = sources(a), sources(b)
    lines: list[DiffLine] = []
    for section in [*sa, *(s for s in sb if s not in sa)]:
        fa, fb = flatten(sa.get(section, {})), flatten(sb.get(section, {}))
        for key in sorted(set(fa) | set(fb)):
            line = DiffLine(section, key, fa.get(key, "—"), fb.get(key, "—"))
            if line.differs or not only_changes:
                lines.append(line)
    return lines


# -- prune --------------------------------------------------------------------------------------
@dataclass
class PrunePlan:
    run_id: str
    keep: list[tuple[CkptRow, str]] = field(default_factory=list)  # with the reason
    delete: list[CkptRow] = field(default_factory=list)
    skipped: list[tuple[CkptRow, str]] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        """What deleting really frees: a file hard-linked from a kept folder (best and final are
        hard-linked copies) frees nothing."""
        return freed_bytes([r.ckpt.path for r in self.delete])

    def describe(self) -> list[str]:
        lines = [f"keep {r.name}: {why}" for r, why in self.keep]
        lines += [f"skip {r.name}: {why}" for r, why in self.skipped]
        lines += [f"DELETE {r.name} ({r.state})" for r in self.delete]
        return lines


def _inodes(paths: Iterable[Path]) -> dict[tuple[int, int], list[int]]:
    """(dev, inode) → [links seen under ``paths``, size, total links]."""
    seen: dict[tuple[int, int], list[int]] = {}
    for path in paths:
        for root, _dirs, files in os.walk(path):
            for name in files:
                try:
                    st = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                entry = seen.setdefault((st.st_dev, st.st_ino), [0, st.st_size, st.st_nlink])
                entry[0] += 1
    return seen


def freed_bytes(paths: Iterable[Path]) -> int:
    return sum(size for count, size, links in _inodes(paths).values() if count >= links)


def disk_usage(paths: Iterable[Path]) -> int:
    """Bytes on disk under ``paths``, each hard-linked file counted once."""
    return sum(size for _count, size, _links in _inodes(paths).values())


def plan_prune(rows: Iterable[CkptRow], metric: str, keep_best: int = 1, keep_last: bool = True,
               remove_broken: bool = True) -> PrunePlan:
    """What a prune of ONE run would keep and delete. Nothing is touched here."""
    rows = list(rows)
    run_ids = {r.run_id for r in rows}
    if len(run_ids) > 1:
        raise ValueError(f"plan_prune: one run at a time (got {', '.join(sorted(run_ids))})")
    plan = PrunePlan(run_ids.pop() if run_ids else "")
    if not rows:
        return plan
    active = rows[0].run_state in ACTIVE
    reasons: dict[str, str] = {}
    protected_targets: set[Path] = set()
    for r in rows:
        if r.name in PROTECTED:
            reasons[r.key] = f"the run's {r.name}"
            protected_targets.add(r.ckpt.path.resolve())
    complete = [r for r in rows if r.ckpt.complete and r.name not in PROTECTED]
    for r in rank(complete, metric)[:keep_best]:
        if r.metric(metric) is not None:
            reasons.setdefault(r.key, f"best {metric}={r.metric(metric):.4g}")
    if keep_last:
        stepped = [r for r in complete if r.step is not None]
        if stepped:
            last = max(stepped, key=lambda r: r.step or 0)
            reasons.setdefault(last.key, f"last (step {last.step})")
    for r in rows:
        if r.key in reasons:
            plan.keep.append((r, reasons[r.key]))
        elif r.ckpt.path.resolve() in protected_targets:
            plan.keep.append((r, "target of best/final"))
        elif not r.ckpt.complete and (active or not remove_broken):
            why = "may be a save in progress (run active)" if active else "broken (kept by request)"
            plan.skipped.append((r, why))
        else:
            plan.delete.append(r)
    return plan


def execute_prune(plan: PrunePlan) -> int:
    """Delete the plan's checkpoints; returns bytes freed. Each folder is renamed to a dot-name first,
    so a reader never sees a half-deleted checkpoint as complete (list_checkpoints skips dot-names)."""
    freed = 0
    for row in plan.delete:
        path = row.ckpt.path
        allowed = {row.run_dir.resolve(), (row.run_dir / CHECKPOINTS_DIR).resolve()}
        if path.parent.resolve() not in allowed:
            raise ValueError(f"{path}: not a checkpoint folder of run {row.run_id}; refusing to delete")
        try:
            # Neither the run folder nor its checkpoints/ may be a link: deleting through one deletes
            # whatever it points to, outside the runs dir.
            check_no_links(path.parent, row.run_dir.parent)
        except UnsafePath as exc:
            raise ValueError(f"{exc.filename}: {exc.strerror}; refusing to prune run {row.run_id}") from None
        if path.is_symlink():
            path.unlink()
            continue
        size = freed_bytes([path])
        doomed = path.with_name(f"{DELETING_PREFIX}{path.name}")
        os.replace(path, doomed)
        rmtree_inside(doomed, row.run_dir.parent)
        freed += size
    return freed


def human_bytes(n: int | None) -> str:
    if n is None:
        return "…"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_age(seconds: float) -> str:
    if math.isinf(seconds):
        return "-"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"
