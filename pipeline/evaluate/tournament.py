"""Pairwise tournament: every pair of models on the same prompts, judged in both orders.

A pair's verdict counts only when both orders agree (A wins as first *and* as second); disagreeing
verdicts are a tie (position bias cancels) and are counted as the judge's order-swap inconsistency; a
failed comparison is missing and counted. Ratings are Bradley–Terry strengths fitted by choix on a
matrix of wins where a tie is half a win each way, with bootstrap intervals over prompts. The
length-controlled win rate refits with a length-difference term, so a model that wins only by writing
more loses that edge. The A/B chat's blind votes join as human outcomes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from pipeline.judge.interface import Judge

ELO_SCALE = 400 / math.log(10)


@dataclass(frozen=True)
class Outcome:
    prompt_id: str
    a: str  # model labels
    b: str
    winner: str | None  # a label, "tie", or None when missing
    len_a: int = 0
    len_b: int = 0
    source: str = "judge"  # judge | human
    reason: str = ""


def judge_pair(judge: Judge, messages: Sequence[Mapping[str, str]], a: str, b: str) -> tuple[str | None, str]:
    """'a' / 'b' / 'tie' from both orders, or None (missing) with the reason."""
    first = judge.compare(messages, a, b)
    second = judge.compare(messages, b, a)
    for v in (first, second):
        if v.verdict not in ("a", "b", "tie"):
            return None, v.reason or f"the judge returned {v.verdict!r}"
    if first.verdict == "a" and second.verdict == "b":
        return "a", ""
    if first.verdict == "b" and second.verdict == "a":
        return "b", ""
    return "tie", "" if first.verdict == second.verdict == "tie" else "orders disagree"


def order_swap(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many judged pairings changed their verdict when the answers swapped places."""
    judged = [o for o in outcomes if o.source == "judge" and o.winner is not None]
    return {"k": sum(o.reason == "orders disagree" for o in judged), "n": len(judged)}


def play(judge: Judge, prompts: Mapping[str, Sequence[Mapping[str, str]]],
         answers: Mapping[str, Mapping[str, str]], on_outcome: Callable[[Outcome], None] | None = None,
         stop: Callable[[], bool] | None = None) -> list[Outcome]:
    """Every pair of models on every prompt both answered; ``answers[model][prompt_id]``."""
    out: list[Outcome] = []
    models = list(answers)
    for pid, messages in prompts.items():
        for ma, mb in combinations(models, 2):
            if stop is not None and stop():
                return out
            a, b = answers[ma].get(pid), answers[mb].get(pid)
            if a is None or b is None:
                continue
            v, reason = judge_pair(judge, messages, a, b)
            winner = None if v is None else {"a": ma, "b": mb, "tie": "tie"}[v]
            oc = Outcome(pid, ma, mb, winner, len(a), len(b), "judge", reason)
            out.append(oc)
            if on_outcome is not None:
                on_outcome(oc)
    return out


def human_outcomes(votes: Iterable[Mapping[str, Any]]) -> list[Outcome]:
    """The A/B chat's votes (pipeline.chat.votes records) as outcomes between the sides' labels."""
    out = []
    for i, v in enumerate(votes):
        sides = v.get("sides") or {}
        la, lb = (sides.get(s, {}).get("label") for s in ("a", "b"))
        if not la or not lb or la == lb or v.get("winner") not in ("a", "b", "tie"):
            continue
        w = v["winner"]
        winner = "tie" if w == "tie" else (la if w == "a" else lb)
        ans_a, ans_b = (str(sides[s].get("answer") or "") for s in ("a", "b"))
        out.append(Outcome(f"vote-{i}", la, lb, winner, len(ans_a), len(ans_b), "human"))
    return out


def wins_matrix(outcomes: Sequence[Outcome], index: Mapping[str, int]) -> list[list[float]]:
    """wins[i][j]: how often model i beat model j; a tie is half a win each way."""
    wins = [[0.0] * len(index) for _ in index]
    for o in outcomes:
        ia, ib = index[o.a], index[o.b]
        if o.winner == o.a:
            wins[ia][ib] += 1.0
        elif o.winner == o.b:
            wins[ib][ia] += 1.0
        elif o.winner == "tie":
            wins[ia][ib] += 0.5
            wins[ib][ia] += 0.5
    return wins


def bt_fit(n: int, wins: Sequence[Sequence[float]], alpha: float = 0.01) -> list[float]:
    """Bradley–Terry log-strengths, centred on 0 (choix's ILSR on the win matrix; alpha regularises a
    perfect record)."""
    import choix
    import numpy as np

    mat = np.asarray(wins, dtype=float).reshape(n, n)
    if not mat.any():
        return [0.0] * n
    params = choix.ilsr_pairwise_dense(mat, alpha=alpha)
    return [float(x) for x in params - params.mean()]


def lc_fit(models: Sequence[str], outcomes: Sequence[Outcome], iters: int = 300) -> tuple[list[float], float]:
    """Logistic BT with a length term: P(a beats b) = σ(θa − θb + γ·Δlen/σlen). Returns (θ, γ)."""
    import numpy as np

    index = {m: i for i, m in enumerate(models)}
    rows = [o for o in outcomes if o.winner is not None]
    if not rows:
        return [0.0] * len(models), 0.0
    dl = np.array([o.len_a - o.len_b for o in rows], dtype=float)
    scale = float(np.std(dl)) or 1.0
    x = np.zeros((len(rows), len(models) + 1))
    y = np.zeros(len(rows))
    for r, o in enumerate(rows):
        x[r, index[o.a]], x[r, index[o.b]] = 1.0, -1.0
        x[r, -1] = dl[r] / scale
        y[r] = 1.0 if o.winner == o.a else 0.0 if o.winner == o.b else 0.5
    w = np.zeros(len(models) + 1)
    for _ in range(iters):  # Newton steps with a small ridge (keeps a perfect record finite)
        p = 1 / (1 + np.exp(-(x @ w)))
        g = x.T @ (y - p) - 0.01 * w
        h = (x * (p * (1 - p))[:, None]).T @ x + 0.01 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w += step
        if float(np.abs(step).max()) < 1e-8:
            break
    theta = w[:-1] - w[:-1].mean()
    return [float(t) for t in theta], float(w[-1])


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@dataclass
class Ratings:
    models: list[str]
    theta: list[float]
    lo: list[float]
    hi: list[float]
    wins: dict[str, float]
    games: dict[str, int]
    lc_theta: list[float]
    length_coef: float
    missing: int
    n_outcomes: int
    human: int
    extra: dict[str, Any] = field(default_factory=dict)

    def order(self) -> list[str]:
        return [m for _, m in sorted(zip(self.theta, self.models, strict=True), reverse=True)]

    def win_rate(self, m: str) -> float | None:
        g = self.games.get(m, 0)
        return self.wins[m] / g if g else None

    def lc_win_rate(self, m: str) -> float | None:
        """Mean over opponents of the length-neutral win probability."""
        i = self.models.index(m)
        others = [j for j in range(len(self.models)) if j != i]
        if not others:
            return None
        return sum(_sigmoid(self.lc_theta[i] - self.lc_theta[j]) for j in others) / len(others)

    def to_dict(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for i, m in enumerate(self.models):
            rows.append({"model": m, "theta": self.theta[i], "lo": self.lo[i], "hi": self.hi[i],
                         "elo": 1000 + ELO_SCALE * self.theta[i], "elo_lo": 1000 + ELO_SCALE * self.lo[i],
                         "elo_hi": 1000 + ELO_SCALE * self.hi[i], "games": self.games.get(m, 0),
                         "win_rate": self.win_rate(m), "lc_win_rate": self.lc_win_rate(m)})
        rows.sort(key=lambda r: -r["theta"])
        return {"ratings": rows, "length_coef": self.length_coef, "missing": self.missing,
                "outcomes": self.n_outcomes, "human_outcomes": self.human, "order": self.order(), **self.extra}


def rate(models: Sequence[str], outcomes: Sequence[Outcome], boot: int = 200, seed: int = 0,
         alpha: float = 0.01) -> Ratings:
    """BT ratings with 95 % bootstrap intervals (resampling prompts, so a prompt's games move together)."""
    models = list(models)
    index = {m: i for i, m in enumerate(models)}
    known = [o for o in outcomes if o.a in index and o.b in index]
    scored = [o for o in known if o.winner is not None]
    theta = bt_fit(len(models), wins_matrix(scored, index), alpha)
    by_prompt: dict[str, list[Outcome]] = {}
    for o in scored:
        by_prompt.setdefault(o.prompt_id, []).append(o)
    keys = sorted(by_prompt)
    rng = random.Random(seed)
    samples: list[list[float]] = []
    for _ in range(boot if keys else 0):
        pick = [o for _k in keys for o in by_prompt[keys[rng.randrange(len(keys))]]]
        samples.append(bt_fit(len(models), wins_matrix(pick, index), alpha))
    lo, hi = [], []
    for i in range(len(models)):
        col = sorted(s[i] for s in samples) or [theta[i]]
        lo.append(col[int(0.025 * (len(col) - 1))])
        hi.append(col[math.ceil(0.975 * (len(col) - 1))])
    wins = dict.fromkeys(models, 0.0)
    games = dict.fromkeys(models, 0)
    for o in scored:
        games[o.a] += 1
        games[o.b] += 1
        if o.winner == "tie":
            wins[o.a] += 0.5
            wins[o.b] += 0.5
        elif o.winner is not None:
            wins[o.winner] += 1
    lc_theta, coef = lc_fit(models, scored)
    return Ratings(models, theta, lo, hi, wins, games, lc_theta, coef, len(known) - len(scored), len(known),
                   sum(o.source == "human" for o in scored))
