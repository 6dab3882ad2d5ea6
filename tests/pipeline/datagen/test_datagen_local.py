"""The local backend on the embedded model (CPU): a real trace and schema-valid judgements, no key, no network.

The full chain datagen → sft → grpo (judge = local) is the preset `datagen-sft-grpo-local` (docs/datagen.md);
this is its short version."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipeline.datagen.config import DatagenSection
from pipeline.datagen.levels import SYSTEM
from pipeline.judge.clients import make_client
from pipeline.judge.config import JudgeSection
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.factory import make_judge
from pipeline.judge.interface import JudgeItem
from pipeline.judge.shaping import Shape


@pytest.mark.slow
def test_local_generator_and_judge_on_the_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    client = make_client(DatagenSection(), "datagen")
    msgs = [{"role": "user", "content": "What is 2 + 2?"}]
    reply = asyncio.run(client.complete(SYSTEM["chosen"], msgs, Shape(24, 24, temperature=0.0)))
    assert reply.text.strip() and 0 < reply.usage["output"] <= 24
    # The tutor prompt wants more than 24 tokens: llama.cpp says `length`, and a cut reply is never complete.
    assert reply.finish == "length" and reply.truncated
    judge = make_judge(JudgeSection(max_answer_chars=200), cache_dir=tmp_path)
    (j,) = judge.score([JudgeItem(tuple(msgs), reply.text)])
    # The grammar makes every judgement complete and in range, whatever the small model "thinks".
    assert j.ok and set(j.scores) == set(DIMENSIONS) and all(0.0 <= v <= 1.0 for v in j.scores.values())
    assert judge.compare(msgs, "4", "5").verdict in ("a", "b", "tie")
    (again,) = judge.score([JudgeItem(tuple(msgs), reply.text)])
    assert again.cached and again.scores == j.scores
    judge.close()
