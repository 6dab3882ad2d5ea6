"""make_judge: a [judge] section → a ready Judge (imports its SDK only now)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config.paths import judge_cache_dir
from pipeline.judge.cache import JudgeCache
from pipeline.judge.clients import make_client
from pipeline.judge.config import JudgeSection
from pipeline.judge.ledger import Ledger
from pipeline.judge.llm import LLMJudge


def make_judge(section: JudgeSection | None = None, cache_dir: Path | None = None,
               ledger: Ledger | None = None) -> LLMJudge:
    """The judge ``section`` describes; judgements are cached under ``cache_dir`` (default
    ~/.cache/aba/judge) when ``section.cache`` is on. Raises ConfigError on a bad section."""
    section = section or JudgeSection()
    judge = LLMJudge(make_client(section, "judge"), section, None, ledger)
    for note in judge.notes:  # the worker's log: what was not sent as configured, and why
        print(f"judge: {note}", flush=True)
    if section.backend != "local" and judge.ledger.price is None:
        print(f"judge: no price known for {judge.client.model}: cost_usd counts 0 (set judge.price_input and "
              "judge.price_output)", flush=True)
    if section.cache:
        name = hashlib.sha256(judge.id.encode()).hexdigest()[:16]
        judge.cache = JudgeCache(Path(cache_dir or judge_cache_dir()) / f"{name}.jsonl")
    return judge
