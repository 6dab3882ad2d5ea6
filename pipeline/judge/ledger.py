"""The ledger of one caller (the generator, a judge): requests, tokens, retries, waits, blocks, cost."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pipeline.judge.prices import Price


def _counts(value: object) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


class Ledger:
    """Thread-safe counters, JSON-able. ``tokens`` keeps thinking apart from the answer's output; the
    cost bills both as output (Gemini: "response pricing is the sum of output tokens and thinking
    tokens"), per request, so a Pro model's long-prompt tier is applied where it applies."""

    def __init__(self, price: Price | None = None) -> None:
        self.price = price
        self._lock = threading.Lock()
        self.requests = 0
        self.tokens = {"input": 0, "output": 0, "thinking": 0}
        self.retries: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.blocked: dict[str, int] = {}  # safety blocks by harm category (or block reason)
        self.waits = 0
        self.waited_s = 0.0
        self.cost = 0.0

    def load(self, data: Mapping[str, Any]) -> None:
        """Continue counting from a saved snapshot (a resumed run)."""
        with self._lock:
            self.requests = int(data.get("requests", 0))
            self.tokens.update({k: v for k, v in _counts(data.get("tokens")).items() if k in self.tokens})
            self.retries = _counts(data.get("retries"))
            self.errors = _counts(data.get("errors"))
            self.blocked = _counts(data.get("blocked"))
            self.waits = int(data.get("waits", 0))
            self.waited_s = float(data.get("waited_s", 0.0))
            self.cost = float(data.get("cost_usd", 0.0))

    def request(self, usage: Mapping[str, int] | None = None) -> None:
        u = {k: int(v or 0) for k, v in (usage or {}).items()}
        with self._lock:
            self.requests += 1
            for k, v in u.items():
                if k in self.tokens:
                    self.tokens[k] += v
            if self.price is not None:
                self.cost += self.price.cost(u.get("input", 0), u.get("output", 0) + u.get("thinking", 0))

    def retry(self, kind: str) -> None:
        with self._lock:
            self.retries[kind] = self.retries.get(kind, 0) + 1

    def error(self, kind: str, category: str = "") -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if kind == "blocked":
                name = category or "unknown"
                self.blocked[name] = self.blocked.get(name, 0) + 1

    def wait(self, seconds: float) -> None:
        with self._lock:
            self.waits += 1
            self.waited_s += seconds

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "tokens": dict(self.tokens),
                    "output_billed": self.tokens["output"] + self.tokens["thinking"],
                    "retries": dict(self.retries), "errors": dict(self.errors), "blocked": dict(self.blocked),
                    "waits": self.waits, "waited_s": round(self.waited_s, 3), "cost_usd": round(self.cost, 6)}
