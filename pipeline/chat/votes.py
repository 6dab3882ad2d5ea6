"""A/B votes (append-only JSONL) and their export as DPO pairs the dpo stage trains on.

One vote line::

    {"ts", "prompt", "system", "turn", "blind", "vote": "A"|"B"|"tie", "winner": "a"|"b"|"tie",
     "sides": {"a": {"label", "kind", "target", "model", "sampling", "answer", "error", "stats"}, "b": {...}},
     "shown": {"A": "a"|"b", "B": …}, "sampling": {...}}

A side's model and sampling (with the seed sent) are those its answer was generated with
(``Turn.generated``), not the form's at vote time; top-level "sampling" is side a's (both sides get
the same). ``"messages"`` holds, per side, the request its answer was made from (system, the side's own
history, the voted user turn). DPO pairs are ``{"prompt", "chosen", "rejected"}``, one a line, plus
``"meta"``: the vote's time and turn and, for "chosen" and "rejected", the model and sampling that
produced them (the dpo stage reads the three and ignores the rest). A first-turn vote's prompt is the
user's text; a later turn's is the conversation so far as chat messages (the loader takes both): the
winner's, since each side answered after its own history; ``meta.shared_history`` says whether the
loser saw the same one. Ties, errors and empty answers carry no preference and are skipped, as are
later-turn votes from before ``"messages"`` was recorded.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_text
from pipeline.chat.session import SIDES, BlindOrder, SideSpec, Turn


def vote_record(turn: Turn, turn_index: int, system: str, vote: str, order: BlindOrder,
                specs: dict[str, SideSpec], sampling: dict[str, Any] | None = None,
                messages: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """One vote line. ``specs`` and ``sampling`` only fill in for a side the turn has no
    ``generated`` record of (a side that was not asked); ``messages`` is each side's request
    (``Conversation.messages(side)``), the prompt a later-turn pair is exported with."""
    vote = vote.upper() if vote.lower() != "tie" else "tie"
    if vote not in ("A", "B", "tie"):
        raise ValueError(f"vote {vote!r}: expected A, B or tie")
    winner = "tie" if vote == "tie" else order.shown(vote)

    def made_with(side: str) -> dict[str, Any]:
        gen = turn.generated.get(side)
        if gen is not None:
            return gen.describe()
        return {**specs[side].describe(), "sampling": dict(sampling or {})}

    sides = {s: {**made_with(s), "answer": turn.answers[s], "error": turn.errors[s], "stats": turn.stats[s]}
             for s in SIDES}
    asked = next((turn.generated[s] for s in SIDES if s in turn.generated), None)
    return {
        "ts": round(time.time(), 3), "prompt": turn.user, "system": system, "turn": turn_index,
        "blind": order.blind, "vote": vote, "winner": winner, "sides": sides,
        "shown": {"A": order.shown("A"), "B": order.shown("B")},
        "sampling": asked.sampling.to_request() if asked is not None else dict(sampling or {}),
        **({"messages": messages} if messages else {}),
    }


def append_vote(path: Path, record: dict[str, Any]) -> None:
    """One line, one write, O_APPEND: a crash never leaves half a vote that hides the others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_votes(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a torn last line from a crash: skip it, keep the rest
        if isinstance(rec, dict):
            out.append(rec)
    return out


@dataclass
class DpoExport:
    path: Path
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items()) if v)
        return f"{self.written} DPO pairs → {self.path}" + (f" (skipped: {skipped})" if skipped else "")


def dpo_pairs(votes: Iterable[dict[str, Any]], include_later_turns: bool = True,
              skipped: dict[str, int] | None = None) -> list[dict[str, Any]]:
    skipped = skipped if skipped is not None else {}
    pairs: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    shared: bool | None = None

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for v in votes:
        winner = v.get("winner")
        sides = v.get("sides") or {}
        if winner == "tie":
            skip("tie")
            continue
        if winner not in SIDES or not isinstance(sides, dict):
            skip("malformed")
            continue
        if v.get("turn", 0) and not include_later_turns:
            skip("later turn")
            continue
        loser = "b" if winner == "a" else "a"
        chosen = (sides.get(winner) or {}).get("answer") or ""
        rejected = (sides.get(loser) or {}).get("answer") or ""
        prompt: str | list[dict[str, str]] = v.get("prompt") or ""
        if (sides.get(winner) or {}).get("error") or not chosen.strip() or not str(prompt).strip():
            skip("empty or failed answer")
            continue
        if chosen == rejected:
            skip("identical answers")
            continue
        shared = None
        if v.get("turn", 0):
            raw = v.get("messages")
            msgs: dict[str, Any] = raw if isinstance(raw, dict) else {}
            conv = msgs.get(winner)
            if not isinstance(conv, list) or not conv or conv[-1].get("role") != "user":
                skip("later turn without its conversation")
                continue
            prompt, shared = conv, conv == msgs.get(loser)
        key = (json.dumps(prompt, ensure_ascii=False), chosen, rejected)
        if key in seen:
            skip("duplicate")
            continue
        seen.add(key)
        meta = {"ts": v.get("ts"), "turn": v.get("turn", 0), "blind": v.get("blind", False),
                "chosen": _made_with(v, winner), "rejected": _made_with(v, loser)}
        if shared is not None:
            meta["shared_history"] = shared
        pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "meta": meta})
    return pairs


def _made_with(vote: dict[str, Any], side: str) -> dict[str, Any]:
    """The model and sampling behind one side's answer (older votes only have the top-level sampling)."""
    rec = vote["sides"].get(side) or {}
    out = {k: rec[k] for k in ("label", "kind", "target", "model") if k in rec}
    sampling = rec.get("sampling", vote.get("sampling"))
    out["sampling"] = sampling if isinstance(sampling, dict) else {}
    return out


def export_dpo(vote_files: Iterable[Path], out: Path, include_later_turns: bool = True) -> DpoExport:
    """Write the pairs (atomically) to ``out``; a JSONL the dpo stage takes as dpo.data."""
    result = DpoExport(out)
    votes = [v for f in vote_files for v in read_votes(Path(f))]
    pairs = dpo_pairs(votes, include_later_turns, result.skipped)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    result.written = len(pairs)
    return result
