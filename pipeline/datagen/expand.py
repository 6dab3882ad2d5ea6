"""Prompt expansion: top each category up to its target (``category_counts``, ``per_category``) with prompts
the generator writes.

Every failure is logged with its kind (a silent loop that wrote nothing is how 0 prompts came out
unnoticed), and a run that asked for prompts and got none fails with the failures counted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.datagen import store
from pipeline.datagen.config import category_targets
from pipeline.datagen.levels import expand_shape
from pipeline.datagen.prompts import EXPAND_SCHEMA, Prompt, expansion_request, parse_expansion, row_to_prompt
from pipeline.judge.calls import Reply, RetryPolicy, call_model
from pipeline.judge.clients import Client
from pipeline.judge.failures import CallError
from pipeline.judge.ledger import Ledger
from pipeline.judge.pacing import Pacer
from pipeline.judge.shaping import Shape


def _ask(client: Client, messages: list[dict[str, str]], shape: Shape) -> Awaitable[Reply]:
    return client.complete("", messages, shape, schema=EXPAND_SCHEMA)


class Expansion:
    def __init__(self, sec: Any, path: Path, log: Callable[[str], None]) -> None:
        self.sec = sec
        self.path = path
        self.log = log
        self.asked = 0  # prompts missing when expansion began
        self.written = 0
        self.failures: dict[str, int] = {}
        self.last_failure = ""
        self.on_progress: Callable[[int, int], None] | None = None  # (written, asked): the run's progress events

    def reuse(self, prompts: list[Prompt]) -> list[Prompt]:
        """Prompts written by an earlier attempt of this run (a resume pays for none of them again)."""
        known = {p.digest for p in prompts}
        for row in store.iter_rows(self.path):
            try:
                p = row_to_prompt(row, str(self.path))
            except Exception:
                continue
            if p.digest not in known:
                known.add(p.digest)
                prompts.append(p)
        return prompts

    def _fail(self, kind: str, message: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1
        self.last_failure = f"{kind}: {message}"
        self.log(f"datagen: prompt expansion: {kind}: {message}")

    async def run(self, client: Client, prompts: list[Prompt], policy: RetryPolicy, ledger: Ledger, pacer: Pacer,
                  stop: Callable[[], bool]) -> list[Prompt]:
        sec = self.sec
        counts: dict[str, int] = {}
        for p in prompts:
            counts[p.category] = counts.get(p.category, 0) + 1
        targets = category_targets(sec, counts)
        shape = expand_shape(sec)
        known = {p.digest for p in prompts}
        self.asked = sum(max(0, n - counts.get(c, 0)) for c, n in targets.items())
        if self.on_progress is not None:
            self.on_progress(0, self.asked)
        for cat, per in targets.items():
            have = [p for p in prompts if p.category == cat]
            attempts = 0
            while len(have) < per and attempts < 3 * per and not stop():
                attempts += 1
                ask = [{"role": "user", "content": expansion_request(cat, have[-5:])}]
                try:
                    reply = await call_model(partial(_ask, client, ask), shape, policy, ledger, pacer,
                                             widen_truncated=True)
                except CallError as err:
                    self._fail(err.kind, str(err))
                    if err.fatal:
                        return prompts
                    continue
                if reply.truncated:
                    self._fail("truncated", f"cut by the output cap ({reply.cap} tokens)")
                    continue
                new = parse_expansion(reply.text, cat, f"{cat}-gen-{len(have) + 1:04d}-{attempts}")
                if new is None:
                    self._fail("bad_response", f"not a prompt: {reply.text[:80]!r}")
                    continue
                if new.digest in known:
                    self._fail("duplicate", f"repeats a prompt: {new.messages[-1][1][:60]!r}")
                    continue
                known.add(new.digest)
                store.append_line(self.path, new.to_row())
                prompts.append(new)
                have.append(new)
                self.written += 1
                if self.on_progress is not None:
                    self.on_progress(self.written, self.asked)
        return prompts

    def verdict(self) -> str | None:
        """Why the run must fail: it asked for prompts and got none."""
        if self.asked and not self.written:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.failures.items())) or "no attempt"
            return (f"datagen: prompt expansion asked for {self.asked} prompt{'s' if self.asked != 1 else ''} and got "
                    f"none ({kinds}); last: {self.last_failure or '-'}")
        return None
