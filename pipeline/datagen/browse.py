"""What the items browser shows, without Textual: datagen runs, their items and one item's detail."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.datagen.store import Item, read_items
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.runs.layout import DATA, DATAGEN_ITEMS


@dataclass(frozen=True)
class ItemRow:
    n: int
    prompt_id: str
    category: str
    level: str
    finish: str
    mean: float | None
    missing: int  # dimensions not scored (9 when the judgement failed or was not made)
    item: Item


def datagen_runs(runs_dir: Path) -> list[Path]:
    """Run folders holding datagen items, newest first (run ids start with a timestamp)."""
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if (p / DATA / DATAGEN_ITEMS).is_file()), key=lambda p: p.name,
                  reverse=True)


def item_rows(run_dir: Path, level: str = "") -> list[ItemRow]:
    out = []
    for i, r in enumerate(read_items(run_dir), 1):
        if level and r.level != level:
            continue
        missing = len(r.judgement.missing_dimensions()) if r.judgement is not None else len(DIMENSIONS)
        out.append(ItemRow(i, r.prompt_id, r.category, r.level, _finish(r), r.mean, missing, r))
    return out


def _finish(r: Item) -> str:
    """What the finish column says: the provider's reason, or why the item holds no complete text."""
    outcome = r.outcome
    if outcome == "complete":
        return r.finish
    if outcome == "truncated":
        return f"cut ({r.finish})"
    category = (r.error or {}).get("category")
    return f"{outcome}: {category}" if category else outcome


def summary(rows: list[ItemRow]) -> str:
    by_level: dict[str, int] = {}
    for r in rows:
        by_level[r.level] = by_level.get(r.level, 0) + 1
    judged = [r.mean for r in rows if r.mean is not None]
    mean = f"{sum(judged) / len(judged):.2f}" if judged else "-"
    levels = ", ".join(f"{k} {v}" for k, v in sorted(by_level.items()))
    cut = sum(r.item.truncated for r in rows)
    complete = sum(r.item.complete for r in rows)
    return (f"{len(rows)} items ({levels}) · complete {complete}, cut {cut} · judged {len(judged)}, missing "
            f"{len(rows) - len(judged)} · mean score {mean}")


def detail(row: ItemRow) -> str:
    r = row.item
    lines = [f"{r.prompt_id} · {r.category} · {r.level} · finish {r.finish} · key {r.key[:12]}"]
    for m in r.messages:
        lines.append(f"» {m.get('role')}: {m.get('content')}")
    if r.error:
        lines.append(f"error: {r.error.get('kind')}: {r.error.get('message')}")
    if r.truncated:
        lines.append("cut by the output cap: incomplete, never judged, not training data")
    if r.thoughts:
        lines.append("")
        lines.append(f"thoughts (Gemini's summary): {r.thoughts}")
    lines.append("")
    lines.append(r.text or "(no text)")
    lines.append("")
    j = r.judgement
    if j is not None and j.missing_reason:
        lines.append(f"judgement missing: {j.missing_reason}")
    if j is not None and j.judge:
        lines.append(f"judge {j.judge}{' (cached)' if j.cached else ''}")
    for d in DIMENSIONS:
        v = j.scores.get(d) if j is not None else None
        lines.append(f"  {d:<24} {'missing' if v is None else f'{v:.2f}'}")
    return "\n".join(lines)
